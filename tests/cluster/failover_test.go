package cluster_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/clusterconf"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// Acceptance 3: kill -9 the node of two running classes of five participants each. Every
// participant reconnects on its own (server-sdk-go) and has media again from another node
// within 10 s; each participant's time is printed.
func TestFailoverKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	skipUnderRace(t)
	pc := clustertest.StartProcCluster(t, 3)
	victim := pc.Nodes[0]
	// Pin both classes on the victim, as a placer would have placed them.
	lc := clusterconf.DefaultPlacement()
	lc.RedisAddr, lc.KeyPrefix = pc.Redis.Addr(), pc.Prefix
	leases, closeLeases := lc.Open()
	defer closeLeases()
	ctx := context.Background()
	for _, room := range []string{"r1", "r2"} {
		if o, err := leases.Acquire(ctx, room, victim.Name, 30*time.Second); err != nil || o != victim.Name {
			t.Fatalf("Acquire(%s) = %q, %v", room, o, err)
		}
	}
	gwURL := "ws" + pc.Gateway.HTTP[len("http"):]
	otherURL := "ws" + pc.Nodes[1].HTTP[len("http"):]
	var peers []*peer
	for _, room := range []string{"r1", "r2"} {
		for i := 0; i < 5; i++ {
			id := fmt.Sprintf("%s-p%d", room, i)
			url := gwURL
			if i%2 == 1 {
				url = otherURL // some enter through another node rather than the gateway
			}
			tok := sfutest.TokenFor("devkey", "secret", room, id)
			p := join(t, url, tok, id, true)
			if p.serverNode() != victim.Name {
				t.Fatalf("%s served by %s, want %s", id, p.serverNode(), victim.Name)
			}
			peers = append(peers, p)
		}
	}
	for _, p := range peers {
		p.waitMedia(t, 15*time.Second)
		p.awayFrom.Store(victim.Name)
	}

	killed := time.Now()
	victim.Kill()
	var times []time.Duration
	for _, p := range peers {
		clustertest.WaitFor(t, 20*time.Second, p.identity+" to get media from another node", func() bool { return p.firstAway.Load() != 0 })
		d := time.Unix(0, p.firstAway.Load()).Sub(killed)
		times = append(times, d)
		t.Logf("failover %s: media again after %s from %s", p.identity, d.Round(time.Millisecond), p.serverNode())
		if d > 10*time.Second {
			t.Errorf("%s: media back after %s, want within 10 s", p.identity, d.Round(time.Millisecond))
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	t.Logf("failover (server-sdk-go, %d participants): p50 %s, max %s", len(times),
		times[len(times)/2].Round(time.Millisecond), times[len(times)-1].Round(time.Millisecond))
	// Each class is whole again, on one node.
	for _, room := range []string{"r1", "r2"} {
		owner, err := leases.Owner(ctx, room)
		if err != nil || owner == "" || owner == victim.Name {
			t.Fatalf("owner of %s after failover = %q, %v", room, owner, err)
		}
		for _, p := range peers {
			if p.room.Name() == room && p.serverNode() != owner {
				t.Errorf("%s on %s, but %s is owned by %s", p.identity, p.serverNode(), room, owner)
			}
		}
	}
}
