package sfu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestNAT1To1: a node behind 1:1 NAT advertises its public address in its candidates (the
// test's only local address is 127.0.0.1, allowed in test mode, which the mapping replaces).
func TestNAT1To1(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.RTC.NAT1To1IPs = []string{"203.0.113.7"}
	}))
	c := mustDialRaw(t, srv, "r", "alice")
	res := c.readUntil(5*time.Second, func(r *livekit.SignalResponse) bool {
		return r.GetTrickle().GetTarget() == livekit.SignalTarget_SUBSCRIBER
	})
	if cand := res.GetTrickle().GetCandidateInit(); !strings.Contains(cand, "203.0.113.7") {
		t.Errorf("server candidate %q does not carry the NAT 1:1 address", cand)
	}
}
