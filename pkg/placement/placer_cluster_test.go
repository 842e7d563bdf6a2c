package placement

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/cluster"
)

// TestPlacerOnRealCluster runs a gateway and three SFU members of a real gossip cluster
// (loopback, "local" preset) over a real Redis: a room is placed on a serving SFU, a
// draining SFU keeps its room but gets no new ones, and when its node dies the room is
// taken over by a live one.
func TestPlacerOnRealCluster(t *testing.T) {
	ctx := context.Background()
	srv := startRedis(t)
	join := func(id string, role cluster.Role, seeds ...string) *cluster.Cluster {
		c, err := cluster.Join(ctx, cluster.Config{NodeID: id, BindAddr: "127.0.0.1", Seeds: seeds, Preset: cluster.PresetLocal},
			cluster.Meta{Role: role, SignalURL: "http://" + id + ".test:7880", Load: cluster.Load{MaxParticipants: 100}})
		if err != nil {
			t.Fatalf("Join(%s): %v", id, err)
		}
		t.Cleanup(func() { _ = c.Shutdown() })
		return c
	}
	gw := join("gw", cluster.RoleSignal)
	sfus := map[string]*cluster.Cluster{}
	for i := range 3 {
		id := fmt.Sprintf("sfu-%d", i)
		sfus[id] = join(id, cluster.RoleSFU, gw.Addr())
	}
	waitUntil(t, 5*time.Second, "gateway sees 4 members", func() bool { return len(gw.Members()) == 4 })

	p := NewPlacer(PlacerConfig{Leases: NewRedis(srv.client(t), uniquePrefix(t)), Members: gw, TTL: time.Minute})
	owner, err := p.Locate(ctx, "class-1")
	if err != nil || sfus[owner] == nil {
		t.Fatalf("Locate(class-1) = %q, %v; want an SFU", owner, err)
	}

	sfus[owner].Update(func(m *cluster.Meta) { m.State = cluster.StateDraining })
	waitUntil(t, 5*time.Second, "gateway sees the owner draining", func() bool {
		m, _ := gw.Member(owner)
		return m.State == cluster.StateDraining
	})
	for i := range 10 {
		room := fmt.Sprintf("class-new-%d", i)
		if got, err := p.Locate(ctx, room); err != nil || got == owner || sfus[got] == nil {
			t.Fatalf("Locate(%s) = %q, %v; want a serving SFU other than the draining %s", room, got, err, owner)
		}
	}
	if got, err := p.Locate(ctx, "class-1"); err != nil || got != owner {
		t.Fatalf("Locate(class-1) on its draining owner = %q, %v; want %s", got, err, owner)
	}

	events, cancel := gw.Subscribe()
	defer cancel()
	killed := time.Now()
	_ = sfus[owner].Shutdown()
	timeout := time.After(10 * time.Second)
	for dead := false; !dead; {
		select {
		case ev := <-events:
			dead = ev.Kind == cluster.EventDead && ev.Member.NodeID == owner
		case <-timeout:
			t.Fatalf("gateway saw no death of %s within 10s", owner)
		}
	}
	next, err := p.Locate(ctx, "class-1")
	t.Logf("room moved from killed %s to %s %v after the kill", owner, next, time.Since(killed))
	if err != nil || next == owner || sfus[next] == nil || !gw.Alive(next) {
		t.Fatalf("Locate(class-1) after its owner died = %q, %v; want a live SFU", next, err)
	}
	alive := slices.DeleteFunc(gw.Members(), func(m cluster.Meta) bool { return m.Role != cluster.RoleSFU })
	if len(alive) != 2 {
		t.Errorf("gateway lists %d SFUs after the kill, want 2", len(alive))
	}
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
