// Package version reports Atrium's own release, stamped at link time with
//
//	-ldflags "-X github.com/atrium-live/atrium/pkg/version.Version=v1.2.3"
//
// It is distinct from the LiveKit protocol level the SFU advertises to SDKs
// (see docs/protocol.md): SDKs gate behaviour on that, operators read this.
package version

// Version is Atrium's release. "dev" for untagged builds.
var Version = "dev"
