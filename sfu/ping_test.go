package sfu_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestPingTimeout: a client that stops answering is dropped after ping_timeout; an SDK that
// never sends LiveKit pings (server-sdk-go) stays, because it answers WebSocket pings.
func TestPingTimeout(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Signal.PingInterval = 200 * time.Millisecond
		c.Signal.PingTimeout = 700 * time.Millisecond
	}))
	sdk := join(t, srv, "r", "sdk", nil)
	dead := mustDialRaw(t, srv, "r", "dead")
	if dead.join.PingInterval != 0 || dead.join.PingTimeout != 0 {
		// Sub-second values round down to 0 s in JoinResponse; production values are whole seconds.
		t.Logf("ping interval/timeout in JoinResponse: %d/%d s", dead.join.PingInterval, dead.join.PingTimeout)
	}
	eventually(t, 3*time.Second, "the SDK to see the raw client", func() bool { return sdk.GetParticipantByIdentity("dead") != nil })
	// The raw client reads nothing, so it answers no WebSocket ping.
	time.Sleep(1500 * time.Millisecond)
	eventually(t, 3*time.Second, "the silent client to be dropped", func() bool { return sdk.GetParticipantByIdentity("dead") == nil })
	if st := sdk.ConnectionState(); st != lksdk.ConnectionStateConnected {
		t.Errorf("SDK client state = %s after %s of no LiveKit pings, want connected", st, 1500*time.Millisecond)
	}
	// LiveKit-level ping_req gets pong_resp echoing the timestamp.
	c := mustDialRaw(t, srv, "r", "pinger")
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_PingReq{PingReq: &livekit.Ping{Timestamp: 42, Rtt: 5}}})
	res := c.readUntil(3*time.Second, func(r *livekit.SignalResponse) bool { return r.GetPongResp() != nil })
	if res.GetPongResp().GetLastPingTimestamp() != 42 {
		t.Errorf("pong_resp = %v, want last_ping_timestamp 42", res)
	}
}
