package turn_test

import (
	"testing"
	"time"

	"github.com/atrium-live/atrium/turn"
	"github.com/atrium-live/atrium/turn/turntest"
)

// A user over allocations_per_user gets 486 while other users are served; closing an
// allocation gives the slot back.
func TestQuotaPerUser(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
		c.Quota.AllocationsPerUser = 2
	}})
	first := allocate(t, clientFor(t, relay, "udp", "alice"))
	allocate(t, clientFor(t, relay, "tcp", "alice"))
	for _, transport := range []string{"udp", "tcp"} {
		_, err := clientFor(t, relay, transport, "alice").Allocate()
		if code := turnCode(err); code != 486 {
			t.Fatalf("third allocation of alice over %s: err = %v (code %d), want 486", transport, err, code)
		}
	}
	exchange(t, allocate(t, clientFor(t, relay, "udp", "bob")), newPeer(t), 1)
	if got := metricValue(t, relay.Server.Registry(), "atrium_turn_allocation_rejections_total", map[string]string{"reason": "user_quota"}); got != 2 {
		t.Errorf("allocation_rejections_total{reason=user_quota} = %v, want 2", got)
	}

	// Closing sends Refresh(lifetime 0): the allocation and its quota slot go away.
	if err := first.Close(); err != nil {
		t.Fatalf("close relay conn: %v", err)
	}
	eventually(t, 5*time.Second, "alice's slot to be released", func() bool { return relay.Server.Allocations() == 2 })
	allocate(t, clientFor(t, relay, "udp", "alice"))
}

// allocations_total caps the relay as a whole.
func TestQuotaTotal(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
		c.Quota.AllocationsTotal = 2
	}})
	allocate(t, clientFor(t, relay, "udp", "u1"))
	allocate(t, clientFor(t, relay, "tcp", "u2"))
	_, err := clientFor(t, relay, "udp", "u3").Allocate()
	if code := turnCode(err); code != 486 {
		t.Fatalf("allocation beyond the total: err = %v (code %d), want 486", err, code)
	}
	if got := metricValue(t, relay.Server.Registry(), "atrium_turn_allocation_rejections_total", map[string]string{"reason": "total_quota"}); got != 1 {
		t.Errorf("allocation_rejections_total{reason=total_quota} = %v, want 1", got)
	}
}
