package cluster

import (
	"encoding/json"
	"errors"
	"log"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/memberlist"
)

// rawMember is a bare memberlist node announcing whatever bytes it is given: it stands
// for a misconfigured or hostile member that skips this package's own checks.
type rawMember struct {
	mu   sync.Mutex
	meta []byte
}

func (r *rawMember) NodeMeta(limit int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.meta...)
}
func (r *rawMember) NotifyMsg([]byte)                           {}
func (r *rawMember) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (r *rawMember) LocalState(join bool) []byte                { return nil }
func (r *rawMember) MergeRemoteState(buf []byte, join bool)     {}

func (r *rawMember) set(b []byte) {
	r.mu.Lock()
	r.meta = b
	r.mu.Unlock()
}

func startRaw(t *testing.T, name string, meta []byte) (*memberlist.Memberlist, *rawMember) {
	t.Helper()
	d := &rawMember{meta: meta}
	mc := memberlist.DefaultLocalConfig()
	mc.Name = name
	mc.BindAddr = "127.0.0.1"
	mc.BindPort = 0
	mc.Delegate = d
	mc.Logger = log.New(&slogWriter{log: testLogger(t).With("test_node", name)}, "", 0)
	ml, err := memberlist.Create(mc)
	if err != nil {
		t.Fatalf("memberlist.Create(%s): %v", name, err)
	}
	t.Cleanup(func() { _ = ml.Shutdown() })
	return ml, d
}

func mustJSON(t *testing.T, m Meta) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestInvalidMetaRefusedAtJoin: members announcing bad metadata cannot join.
func TestInvalidMetaRefusedAtJoin(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	bad := func(mut func(*Meta)) []byte {
		m := sfuMeta("intruder")
		mut(&m)
		return mustJSON(t, m)
	}
	tests := []struct {
		name string
		meta []byte
	}{
		{"not json", []byte("{nope")},
		{"empty", nil},
		{"other node id", bad(func(m *Meta) { m.NodeID = "a" })},
		{"relative url", bad(func(m *Meta) { m.SignalURL = "/rtc" })},
		{"websocket url", bad(func(m *Meta) { m.SignalURL = "ws://127.0.0.1:7880" })},
		{"unknown role", bad(func(m *Meta) { m.Role = "database" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := a.Stats().Rejected
			ml, _ := startRaw(t, "intruder", tt.meta)
			// The intruder may believe it joined (it merges a's state, a refuses its
			// own), so what counts is a's view.
			n, err := ml.Join([]string{a.Addr()})
			t.Logf("intruder join: %d, %v", n, err)
			time.Sleep(300 * time.Millisecond) // any gossip that slipped through would land now
			if a.Alive("intruder") || slices.Contains(ids(a.Members()), "intruder") {
				t.Errorf("intruder with %s meta admitted: %v", tt.name, ids(a.Members()))
			}
			if a.Stats().Rejected == before {
				t.Errorf("Stats().Rejected did not count the %s intruder", tt.name)
			}
		})
	}
}

// TestInvalidMetaUpdateIgnored: a member that was admitted and then gossips bad metadata
// keeps its last good metadata in everyone's view.
func TestInvalidMetaUpdateIgnored(t *testing.T) {
	a := startNode(t, "a", nodeOpts{})
	good := sfuMeta("raw")
	ml, raw := startRaw(t, "raw", mustJSON(t, good))
	if _, err := ml.Join([]string{a.Addr()}); err != nil {
		t.Fatalf("raw join with good meta: %v", err)
	}
	waitFor(t, 5*time.Second, "a admits raw", func() bool { return a.Alive("raw") })

	before := a.Stats().Rejected
	evil := good
	evil.SignalURL = "javascript:alert(1)"
	raw.set(mustJSON(t, evil))
	if err := ml.UpdateNode(time.Second); err != nil {
		t.Logf("UpdateNode: %v", err)
	}
	waitFor(t, 5*time.Second, "a refuses the bad update", func() bool { return a.Stats().Rejected > before })
	if m, ok := a.Member("raw"); !ok || m.SignalURL != good.SignalURL {
		t.Errorf("a.Member(raw) = %+v, %v; want the last good meta", m, ok)
	}
}

func TestDecodeMeta(t *testing.T) {
	good := sfuMeta("n1")
	tests := []struct {
		name string
		node string
		meta []byte
		ok   bool
	}{
		{"good", "n1", mustJSON(t, good), true},
		{"signal role https", "n1", mustJSON(t, Meta{NodeID: "n1", Role: RoleSignal, SignalURL: "https://gw.example:443"}), true},
		{"draining", "n1", mustJSON(t, Meta{NodeID: "n1", Role: RoleSFU, SignalURL: "http://h", State: StateDraining}), true},
		{"name mismatch", "n2", mustJSON(t, good), false},
		{"garbage", "n1", []byte("\x00\x01"), false},
		{"no host", "n1", mustJSON(t, Meta{NodeID: "n1", Role: RoleSFU, SignalURL: "http://"}), false},
		{"no role", "n1", mustJSON(t, Meta{NodeID: "n1", SignalURL: "http://h"}), false},
		{"bad state", "n1", mustJSON(t, Meta{NodeID: "n1", Role: RoleSFU, SignalURL: "http://h", State: "x"}), false},
		{"oversize", "n1", make([]byte, MaxMetaSize+1), false},
	}
	for _, tt := range tests {
		m, err := decodeMeta(tt.node, tt.meta)
		if (err == nil) != tt.ok {
			t.Errorf("decodeMeta(%s) error = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidMeta) {
			t.Errorf("decodeMeta(%s) error %v does not wrap ErrInvalidMeta", tt.name, err)
		}
		if err == nil && m.State == "" {
			t.Errorf("decodeMeta(%s) left State empty, want serving", tt.name)
		}
	}
}

func TestEncodedMetaFitsTypicalNode(t *testing.T) {
	m := Meta{
		NodeID: "sfu-7d9f8c6b5-x2k4p", Role: RoleSFU, SignalURL: "https://sfu-3.eu-west.atrium.example:7880",
		MediaAddrs: []string{"203.0.113.17:7882", "[2001:db8::17]:7882"}, State: StateDraining,
		Load:    Load{CPU: 0.734512, PacketsPerSec: 123456.78, Rooms: 120, Participants: 2400, Tracks: 4800, MaxParticipants: 3000},
		Version: "v1.12.3-45-gabcdef0",
	}
	b, err := encodeMeta(m)
	if err != nil {
		t.Fatalf("encodeMeta: %v", err)
	}
	t.Logf("typical meta is %d bytes of %d: %s", len(b), MaxMetaSize, b)
}
