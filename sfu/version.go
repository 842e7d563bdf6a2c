package sfu

import "github.com/atrium-live/atrium/pkg/version"

// What the SFU reports to SDKs in ServerInfo (see docs/protocol.md for the reasoning).
// SDKs gate features on these, so they describe the LiveKit behaviour Atrium matches, not
// Atrium's own release, which goes in ServerInfo.debug_info, /healthz and `atrium version`.
const (
	// ProtocolVersion is the LiveKit signal protocol level whose behaviour we implement.
	ProtocolVersion = 15
	// LiveKitVersion is the LiveKit server release we behave like. Above 1.8.2 so chat
	// components do not double-send, at or above 1.8.0 so SDK RPC is enabled.
	LiveKitVersion = "1.9.0"
)

func atriumVersion() string { return version.Version }
