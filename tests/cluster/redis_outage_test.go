package cluster_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// Acceptance 5: Redis stopped and restarted under a running class. Media never stops (it
// never depended on Redis); a new room during the outage is refused with a clear error, or
// placed locally by a node configured to fall back; after the restart (Redis comes back
// empty) every lease is taken again by the node running the room.
func TestRedisOutage(t *testing.T) {
	rds := clustertest.StartRedis(t)
	tc := clustertest.Start(t, clustertest.Options{Nodes: 3, Leases: rds.Leases(), Configure: func(i int, c *sfu.Config) {
		c.Placement.FallbackLocal = i == 1 // sfu-2 starts rooms locally when Redis is down
	}})
	ctx := context.Background()
	alice := join(t, tc.GatewayURL(), tc.Token("live", "alice"), "alice", true)
	bob := join(t, tc.GatewayURL(), tc.Token("live", "bob"), "bob", true)
	alice.waitMedia(t, 10*time.Second)
	bob.waitMedia(t, 10*time.Second)
	owner := tc.Owner("live")

	rds.Stop()
	outage := time.Now()
	step := func(what string) { t.Logf("%s at +%s", what, time.Since(outage).Round(time.Millisecond)) }
	// A new room through the gateway: refused, and quickly, with a message saying why.
	resp, err := http.Get(tc.GatewayHTTP() + "/rtc/validate?access_token=" + tc.Token("during", "carol"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("new room through the gateway during the outage: %d, want 503", resp.StatusCode)
	}
	step("gateway refused a new room")
	// The same through the node configured to fall back: it takes the room itself.
	fallback := tc.Nodes[1]
	dave := join(t, fallback.URL(), tc.Token("fallback", "dave"), "dave", true)
	if dave.serverNode() != fallback.NodeID() {
		t.Errorf("fallback room on %s, want %s", dave.serverNode(), fallback.NodeID())
	}

	step("fallback node took a new room")
	// Media goes on through the outage: no gap above 2 s (audio flows every 20 ms; the bound
	// leaves room for the race detector on a loaded machine), for longer than a lease.
	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		for _, p := range []*peer{alice, bob} {
			if gap := time.Since(time.Unix(0, p.lastRecv.Load())); gap > 2*time.Second {
				t.Fatalf("%s got no media for %s during the Redis outage", p.identity, gap)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	rds.Start()
	t.Logf("Redis down for %s", time.Since(outage).Round(time.Millisecond))

	// The restarted Redis is empty: the owners take their leases again on their next renewal.
	ownerNow := func(room string) string {
		o, _ := tc.Leases.Owner(ctx, room) // the client may report the outage a moment longer
		return o
	}
	clustertest.WaitFor(t, 5*time.Second, "leases to be taken again after the restart", func() bool {
		return ownerNow("live") == owner && ownerNow("fallback") == fallback.NodeID()
	})
	for _, p := range []*peer{alice, bob} {
		p.waitMedia(t, 2*time.Second)
	}
	// Placement works again, and a late joiner meets the others in the same room.
	carol := join(t, tc.GatewayURL(), tc.Token("live", "carol"), "carol", true)
	if carol.serverNode() != owner {
		t.Errorf("late joiner on %s, want the room's node %s", carol.serverNode(), owner)
	}
	carol.waitMedia(t, 10*time.Second)
	if o, err := tc.Leases.Owner(ctx, "after"); err != nil || o != "" {
		t.Fatalf("Owner(after) = %q, %v", o, err)
	}
	erin := join(t, tc.GatewayURL(), tc.Token("after", "erin"), "erin", false)
	if erin.serverNode() != tc.Owner("after") {
		t.Errorf("new room after the outage served by %s, owned by %s", erin.serverNode(), tc.Owner("after"))
	}
}
