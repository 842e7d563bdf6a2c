package placement

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/cluster"
)

// staticMembers is a fixed gossip view, named as the fake it is: the Placer's decisions
// are tested against exact member lists here, and against a real cluster in
// placer_cluster_test.go.
type staticMembers struct {
	mu sync.Mutex
	ms []cluster.Meta
}

func (s *staticMembers) Members() []cluster.Meta {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]cluster.Meta(nil), s.ms...)
}

func (s *staticMembers) Alive(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, m := range s.ms {
		if m.NodeID == id {
			return true
		}
	}
	return false
}

func member(id string, role cluster.Role, state cluster.State, cpu float64) cluster.Meta {
	return cluster.Meta{NodeID: id, Role: role, State: state, SignalURL: "http://" + id, Load: cluster.Load{CPU: cpu}}
}

func sfu(id string, cpu float64) cluster.Meta {
	return member(id, cluster.RoleSFU, cluster.StateServing, cpu)
}

func newTestPlacer(l Leases, ms ...cluster.Meta) *Placer {
	return NewPlacer(PlacerConfig{Leases: l, Members: &staticMembers{ms: ms}, TTL: time.Minute, Rand: rand.New(rand.NewPCG(1, 1))})
}

func TestLocatePlacesOnServingSFU(t *testing.T) {
	ctx := context.Background()
	l := NewMemory(nil)
	p := newTestPlacer(l,
		member("gw", cluster.RoleSignal, cluster.StateServing, 0),
		member("sfu-idle-draining", cluster.RoleSFU, cluster.StateDraining, 0),
		sfu("sfu-busy", 0.8))
	for i := range 20 {
		room := fmt.Sprintf("room-%d", i)
		got, err := p.Locate(ctx, room)
		if err != nil || got != "sfu-busy" {
			t.Fatalf("Locate(%s) = %q, %v; want the only serving SFU", room, got, err)
		}
		mustOwner(t, l, room, "sfu-busy")
	}
	// An owned room stays where it is, even on a draining node.
	mustAcquire(t, l, "old", "sfu-idle-draining", time.Minute)
	if got, err := p.Locate(ctx, "old"); err != nil || got != "sfu-idle-draining" {
		t.Errorf("Locate(old) = %q, %v; want its draining owner", got, err)
	}
	if _, err := p.Locate(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("Locate(\"\") error = %v, want ErrInvalid", err)
	}
}

func TestLocateTakesOverFromDeadOwner(t *testing.T) {
	ctx := context.Background()
	l := NewMemory(nil)
	mustAcquire(t, l, "r", "dead-node", time.Minute)
	p := newTestPlacer(l, sfu("a", 0.1), sfu("b", 0.1))
	got, err := p.Locate(ctx, "r")
	if err != nil || (got != "a" && got != "b") {
		t.Fatalf("Locate(r) with a dead owner = %q, %v; want a or b", got, err)
	}
	mustOwner(t, l, "r", got)
}

func TestLocateNoNode(t *testing.T) {
	ctx := context.Background()
	tests := map[string][]cluster.Meta{
		"no members":   nil,
		"gateway only": {member("gw", cluster.RoleSignal, cluster.StateServing, 0)},
		"all draining": {member("a", cluster.RoleSFU, cluster.StateDraining, 0)},
	}
	for name, ms := range tests {
		l := NewMemory(nil)
		p := newTestPlacer(l, ms...)
		if got, err := p.Locate(ctx, "r"); !errors.Is(err, ErrNoNode) {
			t.Errorf("%s: Locate = %q, %v; want ErrNoNode", name, got, err)
		}
		mustOwner(t, l, "r", "")
	}
}

// TestLocateSpreadsRooms: 30 new rooms over 3 idle, equal SFUs whose gossiped load does
// not move meanwhile (rooms are created faster than loads are re-announced): no node gets
// more than twice another, for any seed, because the Placer counts its own placements.
func TestLocateSpreadsRooms(t *testing.T) {
	ctx := context.Background()
	for seed := range uint64(50) {
		l := NewMemory(nil)
		p := NewPlacer(PlacerConfig{Leases: l, Members: &staticMembers{ms: []cluster.Meta{sfu("a", 0), sfu("b", 0), sfu("c", 0)}},
			Rand: rand.New(rand.NewPCG(seed, seed))})
		count := map[string]int{}
		for i := range 30 {
			got, err := p.Locate(ctx, fmt.Sprintf("room-%d", i))
			if err != nil {
				t.Fatal(err)
			}
			count[got]++
		}
		if lo, hi := minMax(count, "a", "b", "c"); hi > 2*lo {
			t.Fatalf("seed %d: 30 rooms over 3 equal nodes = %v: a node got more than twice another", seed, count)
		}
	}
}

// TestLocateRacing: 100 concurrent Locate calls for one new room, from 4 placers (as on
// 4 gateways), all answer the same node; against both lease stores.
func TestLocateRacing(t *testing.T) {
	srv := startRedis(t)
	stores := map[string]func(t *testing.T) Leases{
		"memory": func(t *testing.T) Leases { return NewMemory(nil) },
		"redis":  func(t *testing.T) Leases { return NewRedis(srv.client(t), uniquePrefix(t)) },
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			l := mk(t)
			members := &staticMembers{ms: []cluster.Meta{sfu("a", 0.2), sfu("b", 0.2), sfu("c", 0.2), sfu("d", 0.2)}}
			placers := make([]*Placer, 4)
			for i := range placers {
				placers[i] = NewPlacer(PlacerConfig{Leases: l, Members: members, Rand: rand.New(rand.NewPCG(uint64(i), 9))})
			}
			const n = 100
			got := make([]string, n)
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() { got[i], errs[i] = placers[i%len(placers)].Locate(context.Background(), "hot") })
			}
			wg.Wait()
			owner, _ := l.Owner(context.Background(), "hot")
			for i := range n {
				if errs[i] != nil || got[i] != owner {
					t.Fatalf("Locate %d = %q, %v; want the owner %q like every other", i, got[i], errs[i], owner)
				}
			}
		})
	}
}

func TestLocateStoreDown(t *testing.T) {
	srv := startRedis(t)
	l := NewRedis(srv.client(t), uniquePrefix(t))
	members := &staticMembers{ms: []cluster.Meta{sfu("a", 0), sfu("self", 0)}}
	strict := NewPlacer(PlacerConfig{Leases: l, Members: members})
	lenient := NewPlacer(PlacerConfig{Leases: l, Members: members, LocalFallback: "self"})
	ctx := context.Background()

	srv.stop()
	if got, err := strict.Locate(ctx, "r"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Locate with Redis down = %q, %v; want ErrUnavailable", got, err)
	}
	if got, err := lenient.Locate(ctx, "r"); err != nil || got != "self" {
		t.Errorf("Locate with Redis down and a fallback = %q, %v; want self", got, err)
	}

	srv.start()
	got, err := strict.Locate(ctx, "r")
	if err != nil || (got != "a" && got != "self") {
		t.Fatalf("Locate after Redis is back = %q, %v", got, err)
	}
	if again, err := lenient.Locate(ctx, "r"); err != nil || again != got {
		t.Errorf("second placer's Locate = %q, %v; want the owner %q", again, err, got)
	}
}

// departedMembers adds a record of departures to staticMembers, like *cluster.Cluster.
type departedMembers struct {
	staticMembers
	gone map[string]bool
}

func (d *departedMembers) Gone(id string) bool { return d.gone[id] }

// An owner this member has never seen (it joined a moment ago and gossip has not brought it
// here yet) keeps its room: Locate asks to retry instead of splitting the room. Only an
// owner known to be gone is replaced.
func TestLocateWaitsForUnknownOwner(t *testing.T) {
	ctx := context.Background()
	l := NewMemory(nil)
	mustAcquire(t, l, "new-node-room", "sfu-new", time.Minute)
	mustAcquire(t, l, "dead-node-room", "sfu-dead", time.Minute)
	ms := &departedMembers{staticMembers: staticMembers{ms: []cluster.Meta{sfu("a", 0.1)}}, gone: map[string]bool{"sfu-dead": true}}
	p := NewPlacer(PlacerConfig{Leases: l, Members: ms, TTL: time.Minute, Rand: rand.New(rand.NewPCG(1, 1))})
	if got, err := p.Locate(ctx, "new-node-room"); !errors.Is(err, ErrOwnerUnknown) {
		t.Fatalf("Locate with an owner not known yet = %q, %v; want ErrOwnerUnknown", got, err)
	}
	mustOwner(t, l, "new-node-room", "sfu-new")
	if got, err := p.Locate(ctx, "dead-node-room"); err != nil || got != "a" {
		t.Fatalf("Locate with a gone owner = %q, %v; want a", got, err)
	}
	mustOwner(t, l, "dead-node-room", "a")
}
