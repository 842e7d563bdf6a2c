package cluster

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestThreeMembersSeeEachOther(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	b := startNode(t, "b", nodeOpts{seeds: []string{a.Addr()}})
	c := startNode(t, "c", nodeOpts{seeds: []string{b.Addr()}})
	want := []string{"a", "b", "c"}
	for _, n := range []*Cluster{a, b, c} {
		waitFor(t, 5*time.Second, n.Self().NodeID+" sees a, b, c", func() bool {
			return slices.Equal(ids(n.Members()), want)
		})
	}
	m, ok := a.Member("c")
	if !ok {
		t.Fatalf("a.Member(c) not found")
	}
	if m.Role != RoleSFU || m.SignalURL != "http://127.0.0.1:7880" || m.State != StateServing ||
		!slices.Equal(m.MediaAddrs, []string{"127.0.0.1:7882"}) || m.Load.MaxParticipants != 100 {
		t.Errorf("a.Member(c) = %+v, want c's announced meta", m)
	}
	if !b.Alive("a") || b.Alive("nope") {
		t.Errorf("b.Alive(a) = %v, b.Alive(nope) = %v; want true, false", b.Alive("a"), b.Alive("nope"))
	}
	if s := a.Self(); s.NodeID != "a" {
		t.Errorf("a.Self().NodeID = %q", s.NodeID)
	}
}

func TestUpdatePropagates(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	b := startNode(t, "b", nodeOpts{seeds: []string{a.Addr()}})
	waitFor(t, 5*time.Second, "b sees a", func() bool { return b.Alive("a") })
	events, cancel := b.Subscribe()
	defer cancel()

	start := time.Now()
	a.Update(func(m *Meta) {
		m.State = StateDraining
		m.Load.CPU = 0.5
		m.Load.Participants = 42
	})
	if s := a.Self(); s.State != StateDraining || s.Load.Participants != 42 {
		t.Fatalf("a.Self() after Update = %+v", s)
	}
	ev := waitEvent(t, events, EventUpdate, "a", 3*time.Second)
	t.Logf("update seen by b after %v", time.Since(start))
	if ev.Member.State != StateDraining || ev.Member.Load.Participants != 42 || ev.Member.Load.CPU != 0.5 {
		t.Errorf("update event member = %+v, want draining with 42 participants at cpu 0.5", ev.Member)
	}
	if m, _ := b.Member("a"); m.State != StateDraining {
		t.Errorf("b.Member(a).State = %q, want draining", m.State)
	}
}

func TestUpdateRefusesInvalidMeta(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	tests := []struct {
		name string
		fn   func(m *Meta)
	}{
		{"changed id", func(m *Meta) { m.NodeID = "other" }},
		{"bad url", func(m *Meta) { m.SignalURL = "ftp://x" }},
		{"unknown role", func(m *Meta) { m.Role = "db" }},
		{"unknown state", func(m *Meta) { m.State = "sleepy" }},
		{"too big", func(m *Meta) {
			for i := range 40 {
				m.MediaAddrs = append(m.MediaAddrs, fmt.Sprintf("198.51.100.%d:7882", i))
			}
		}},
	}
	for _, tt := range tests {
		if err := a.TryUpdate(tt.fn); err == nil {
			t.Errorf("TryUpdate(%s) = nil, want an error", tt.name)
		}
	}
	if s := a.Self(); !slices.Equal(s.MediaAddrs, []string{"127.0.0.1:7882"}) || s.SignalURL != "http://127.0.0.1:7880" || s.NodeID != "a" {
		t.Errorf("Self() after refused updates = %+v, want it unchanged", s)
	}
}

// TestDeadDetection kills a member without a goodbye and measures how long the others
// take to declare it dead (the figure placement's takeover waits on).
func TestDeadDetection(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	b := startNode(t, "b", nodeOpts{seeds: []string{a.Addr()}})
	c := startNode(t, "c", nodeOpts{seeds: []string{a.Addr()}})
	for _, n := range []*Cluster{a, b, c} {
		waitFor(t, 5*time.Second, "full view", func() bool { return len(n.Members()) == 3 })
	}
	evA, cancelA := a.Subscribe()
	defer cancelA()
	evB, cancelB := b.Subscribe()
	defer cancelB()

	start := time.Now()
	if err := c.Shutdown(); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	ev := waitEvent(t, evA, EventDead, "c", 10*time.Second)
	t.Logf("dead detection (local preset, 3 members): a after %v", time.Since(start))
	if ev.Member.Role != RoleSFU || ev.Member.SignalURL == "" {
		t.Errorf("dead event carries %+v, want c's last meta", ev.Member)
	}
	waitEvent(t, evB, EventDead, "c", 10*time.Second)
	t.Logf("dead detection (local preset, 3 members): b after %v", time.Since(start))
	if a.Alive("c") || slices.Contains(ids(b.Members()), "c") {
		t.Errorf("c still listed after its death: a.Alive=%v b.Members=%v", a.Alive("c"), ids(b.Members()))
	}
	if c.Alive("c") || len(c.Members()) != 0 {
		t.Errorf("a shut down member lists %v", ids(c.Members()))
	}
	if !a.Gone("c") || a.Gone("b") || a.Gone("never-seen") {
		t.Errorf("Gone: c=%v (want true), b=%v (alive, want false), never-seen=%v (want false)",
			a.Gone("c"), a.Gone("b"), a.Gone("never-seen"))
	}
}

func TestGracefulLeave(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	b := startNode(t, "b", nodeOpts{seeds: []string{a.Addr()}})
	waitFor(t, 5*time.Second, "a sees b", func() bool { return a.Alive("b") })
	events, cancel := a.Subscribe()
	defer cancel()
	bEvents, _ := b.Subscribe()

	ctx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	if err := b.Leave(ctx); err != nil {
		t.Fatalf("Leave: %v", err)
	}
	waitEvent(t, events, EventLeave, "b", 3*time.Second)
	if a.Alive("b") {
		t.Errorf("a.Alive(b) after b left")
	}
	if !a.Gone("b") {
		t.Errorf("a.Gone(b) = false after b left")
	}
	if _, ok := <-bEvents; ok {
		// Drain: the channel must end up closed.
		for range bEvents {
		}
	}
	if err := b.Leave(ctx); err != nil {
		t.Errorf("second Leave: %v", err)
	}
	if err := b.Shutdown(); err != nil {
		t.Errorf("Shutdown after Leave: %v", err)
	}
}

// TestSecretKeyKeepsStrangersOut: a member with another key, or none, can neither join a
// keyed cluster nor get its metadata into it.
func TestSecretKeyKeepsStrangersOut(t *testing.T) {
	key := []byte("0123456789abcdef")
	a := startNode(t, "a", nodeOpts{key: key})
	b := startNode(t, "b", nodeOpts{key: key, seeds: []string{a.Addr()}})
	waitFor(t, 5*time.Second, "keyed members see each other", func() bool { return a.Alive("b") && b.Alive("a") })

	wrong := startNode(t, "wrongkey", nodeOpts{key: []byte("fedcba9876543210"), seeds: []string{a.Addr(), b.Addr()}})
	none := startNode(t, "nokey", nodeOpts{seeds: []string{a.Addr(), b.Addr()}})
	// The strangers keep retrying in the background; give them several attempts.
	time.Sleep(3 * time.Second)
	for _, n := range []*Cluster{a, b} {
		if got := ids(n.Members()); !slices.Equal(got, []string{"a", "b"}) {
			t.Errorf("%s.Members() = %v, want [a b]", n.Self().NodeID, got)
		}
	}
	for _, n := range []*Cluster{wrong, none} {
		if got := ids(n.Members()); len(got) != 1 {
			t.Errorf("stranger %s.Members() = %v, want only itself", n.Self().NodeID, got)
		}
	}
}

func TestJoinRetriesUntilSeedAppears(t *testing.T) {
	port := freePort(t)
	seed := fmt.Sprintf("127.0.0.1:%d", port)
	b := startNode(t, "b", nodeOpts{seeds: []string{seed}})
	if len(b.Members()) != 1 {
		t.Fatalf("b.Members() = %v before the seed exists", ids(b.Members()))
	}
	time.Sleep(300 * time.Millisecond)
	a := startNode(t, "a", nodeOpts{port: port})
	waitFor(t, 5*time.Second, "b joins a once a is up", func() bool { return a.Alive("b") && b.Alive("a") })
}

func TestSubscribeCancelAndDrop(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	ch, cancel := a.Subscribe()
	cancel()
	cancel() // idempotent
	if _, ok := <-ch; ok {
		t.Fatal("event on a cancelled subscription")
	}
	// A subscriber that never reads loses events instead of blocking gossip.
	_, cancel2 := a.Subscribe()
	defer cancel2()
	a.mu.Lock()
	for range subscriberBuffer + 5 {
		a.publishLocked(Event{Kind: EventUpdate, Member: sfuMeta("x")})
	}
	a.mu.Unlock()
	if got := a.Stats().DroppedEvents; got != 5 {
		t.Errorf("DroppedEvents = %d, want 5", got)
	}
}

func TestJoinRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		cfg  Config
		meta Meta
	}{
		{"no node id", Config{BindAddr: "127.0.0.1"}, sfuMeta("")},
		{"id mismatch", Config{NodeID: "a", BindAddr: "127.0.0.1"}, sfuMeta("b")},
		{"short key", Config{NodeID: "a", BindAddr: "127.0.0.1", SecretKey: []byte("short")}, sfuMeta("a")},
		{"bad preset", Config{NodeID: "a", BindAddr: "127.0.0.1", Preset: "wan"}, sfuMeta("a")},
		{"bad meta", Config{NodeID: "a", BindAddr: "127.0.0.1"}, Meta{NodeID: "a", Role: "x", SignalURL: "http://h"}},
	}
	for _, tt := range tests {
		if c, err := Join(ctx, tt.cfg, tt.meta); err == nil {
			_ = c.Shutdown()
			t.Errorf("Join(%s) = nil error, want one", tt.name)
		}
	}
}

// TestSeedDNS joins through a DNS name (as a Kubernetes headless service would be used):
// "localhost" resolves to the loopback address the seed listens on.
func TestSeedDNS(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	_, port, err := net.SplitHostPort(a.Addr())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	c, err := Join(context.Background(), Config{
		NodeID: "b", BindAddr: "127.0.0.1", SeedDNS: "localhost", SeedPort: p,
		Preset: PresetLocal, Logger: testLogger(t),
	}, sfuMeta("b"))
	if err != nil {
		t.Fatalf("Join through SeedDNS: %v", err)
	}
	defer c.Shutdown()
	waitFor(t, 5*time.Second, "a and b joined through DNS", func() bool { return a.Alive("b") && c.Alive("a") })
}

// TestReconnectToFailedMember: a member that died and comes back on the same address
// without any seed (a restarted process, or the far side of a healed partition) is found
// again by the survivors' reconnect loop.
func TestReconnectToFailedMember(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	port := freePort(t)
	b := startNode(t, "b", nodeOpts{port: port, seeds: []string{a.Addr()}})
	waitFor(t, 5*time.Second, "a sees b", func() bool { return a.Alive("b") })
	events, cancel := a.Subscribe()
	defer cancel()
	_ = b.Shutdown()
	waitEvent(t, events, EventDead, "b", 10*time.Second)
	// Past GossipToTheDeadTime (2s in the local preset) memberlist no longer gossips to
	// b's address by itself: only the reconnect loop can find it.
	time.Sleep(3 * time.Second)

	b2 := startNode(t, "b", nodeOpts{port: port}) // no seeds: it starts a cluster of its own
	start := time.Now()
	waitEvent(t, events, EventJoin, "b", 10*time.Second)
	t.Logf("restarted member rejoined after %v", time.Since(start))
	waitFor(t, 5*time.Second, "b sees a again", func() bool { return b2.Alive("a") })
}
