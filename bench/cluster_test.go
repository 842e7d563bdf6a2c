package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/placement"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/signaling"
)

// benchCluster is 3 SFU nodes and a gateway in this test process (the pattern of
// tests/cluster/harness_test.go): gossip on 127.0.0.1 with port 0, one in-memory lease store.
type benchCluster struct {
	nodes  []*sfutest.Server
	gw     *signaling.Gateway
	leases placement.Leases
}

func startBenchCluster(t *testing.T, n int) *benchCluster {
	t.Helper()
	bc := &benchCluster{leases: placement.NewMemory(time.Now)}
	seed := ""
	for i := range n {
		id := fmt.Sprintf("sfu-%d", i+1)
		srv := sfutest.Serve(t, sfutest.WithLeases(bc.leases), sfutest.WithConfig(func(c *sfu.Config) {
			c.NodeID = id
			c.Cluster.Enabled = true
			c.Cluster.Preset = "local"
			c.Cluster.BindAddr = "127.0.0.1:0"
			c.Cluster.LoadInterval = 500 * time.Millisecond
			if seed != "" {
				c.Cluster.Seeds = []string{seed}
			}
			c.Placement.LeaseTTL = 3 * time.Second
		}))
		if i == 0 {
			waitUntil(t, 5*time.Second, "the first node to join gossip", func() bool { return srv.GossipAddr() != "" })
			seed = srv.GossipAddr()
		}
		bc.nodes = append(bc.nodes, srv)
	}
	cfg := signaling.DevConfig()
	cfg.NodeID = "gw-1"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Cluster.BindAddr = "127.0.0.1:0"
	cfg.Cluster.Seeds = []string{seed}
	cfg.Placement.LeaseTTL = 3 * time.Second
	gw, err := signaling.New(cfg, signaling.Deps{Leases: bc.leases})
	if err != nil {
		t.Fatalf("signaling.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("gateway Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("gateway did not stop")
		}
	})
	bc.gw = gw
	waitUntil(t, 10*time.Second, "every member to see all the others", func() bool {
		if len(gw.Members()) != n+1 {
			return false
		}
		for _, s := range bc.nodes {
			if len(s.Members()) != n+1 {
				return false
			}
		}
		return true
	})
	return bc
}

func (bc *benchCluster) target() Target {
	return Target{URL: "ws://" + bc.gw.Addr().String(), APIKey: sfu.DevAPIKey, APISecret: sfu.DevAPISecret}
}

func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRoomsThroughGateway is acceptance item 8 of issue 9: `--rooms 9` through the gateway
// of a 3-node cluster spreads the rooms over every node, the per-node report agrees with
// the lease owners and with what the nodes report, and the signal path comparison has
// figures for both paths. Asserted through the JSON the tester writes.
func TestRoomsThroughGateway(t *testing.T) {
	if raceEnabled {
		// Under -race the joins take seconds and the run measures the detector. The
		// cluster run's own concurrency (rooms, poller, probes, owner lookup) is raced by
		// TestRoomsOnASingleServer.
		t.Skip("too heavy under the race detector; TestRoomsOnASingleServer covers RunCluster's concurrency")
	}
	bc := startBenchCluster(t, 3)
	scn, err := Preset("lecture", PresetParams{Subscribers: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Small, cheap classes: the point is placement and reporting, not throughput.
	scn.Video.Bitrate, scn.Video.FPS, scn.Video.Width, scn.Video.Height = 200_000, 15, 320, 240
	scn.Duration = 14 * time.Second
	scn.JoinRate = 15
	// Nine rooms, not six: placement is power of two random choices, so with six rooms one
	// of three nodes stays empty about once in 80 runs ((1/3)^4: after the first two rooms,
	// each new room misses the empty node when the drawn pair excludes it); with nine, about
	// once in 2,000 ((1/3)^7).
	const rooms, probes = 9, 1
	prefix := fmt.Sprintf("acc8-%d", time.Now().UnixNano())
	opts := ClusterOptions{Run: Options{Scenario: scn, Target: bc.target(), Grace: 10 * time.Second},
		Rooms: rooms, CompareDirect: true, Probes: probes, RoomPrefix: prefix,
		PollInterval: 250 * time.Millisecond, ProcessPIDs: map[string]int{"test-process": os.Getpid()}}

	// Record each room's lease owner while the rooms run: the truth the report must match.
	owners := map[string]string{}
	var mu sync.Mutex
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for i := range rooms {
				name := fmt.Sprintf("%s-r%02d", prefix, i)
				if o, err := bc.leases.Owner(context.Background(), name); err == nil && o != "" {
					mu.Lock()
					if prev, ok := owners[name]; ok && prev != o {
						owners[name] = "moved:" + prev + "->" + o
					} else if !ok {
						owners[name] = o
					}
					mu.Unlock()
				}
			}
		}
	}()
	res, err := RunCluster(context.Background(), opts)
	close(stop)
	<-watched
	if res != nil {
		var table strings.Builder
		_ = res.WriteTable(&table)
		t.Log("\n" + table.String())
	}
	if err != nil {
		t.Fatalf("RunCluster: %v", err)
	}
	path := filepath.Join(t.TempDir(), "cluster.json")
	if err := WriteJSONFile(path, res); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got ClusterResult
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("result JSON: %v", err)
	}
	perRoom := 3 // teacher, student through the gateway, its direct twin
	if got.Participants != perRoom || got.Totals.JoinsOK != rooms*perRoom || got.Totals.JoinsFailed != 0 {
		t.Errorf("participants per room %d, joins ok/failed %d/%d; want %d, %d/0", got.Participants,
			got.Totals.JoinsOK, got.Totals.JoinsFailed, perRoom, rooms*perRoom)
	}
	want := map[string]int{} // node -> rooms, from the leases
	for i := range rooms {
		name := fmt.Sprintf("%s-r%02d", prefix, i)
		o := owners[name]
		if o == "" || len(o) > 6 && o[:6] == "moved:" {
			t.Fatalf("room %s: lease owner %q, want one owner for the whole run", name, o)
		}
		want[o]++
		if r := got.Rooms[i]; r.Name != name || r.Node != o {
			t.Errorf("room %d reported as %s on %q, its lease owner is %q", i, r.Name, r.Node, o)
		}
	}
	if len(want) != 3 {
		t.Errorf("rooms landed on %d nodes (%v), want all 3", len(want), want)
	}
	if len(got.Nodes) != 3 {
		t.Fatalf("report lists %d nodes, want 3: %+v", len(got.Nodes), got.Nodes)
	}
	for _, n := range got.Nodes {
		if n.BenchRooms != want[n.ID] || n.BenchParticipants != perRoom*want[n.ID] {
			t.Errorf("node %s: bench rooms/participants %d/%d, want %d/%d", n.ID, n.BenchRooms,
				n.BenchParticipants, want[n.ID], perRoom*want[n.ID])
		}
		l := n.Reported
		if l == nil || l.Samples == 0 {
			t.Errorf("node %s: no load sample in the steady window", n.ID)
			continue
		}
		// A fresh cluster runs only this run's rooms, and no probe is in flight in the
		// steady window: the node's own counts equal the bench's.
		if l.RoomsMax != n.BenchRooms || l.ParticipantsMax != n.BenchParticipants {
			t.Errorf("node %s reported %d rooms, %d participants; the bench placed %d, %d there",
				n.ID, l.RoomsMax, l.ParticipantsMax, n.BenchRooms, n.BenchParticipants)
		}
		if l.CPUPercentMax <= 0 || (n.BenchRooms > 0 && l.PacketsPerSMean <= 0) {
			t.Errorf("node %s: cpu max %.1f%%, forwarded %.0f pkt/s: want both > 0", n.ID, l.CPUPercentMax, l.PacketsPerSMean)
		}
	}
	if len(got.Processes) != 1 || got.Processes[0].CPUSeconds <= 0 {
		t.Errorf("processes = %+v, want the test process with CPU > 0", got.Processes)
	}
	sp := got.SignalPath
	if sp == nil {
		t.Fatal("no signal_path in the result")
	}
	for name, f := range map[string]PathFigures{"target": sp.Target, "direct": sp.Direct} {
		if f.JoinResponseMs.N != rooms*probes || f.JoinResponseMs.P50 <= 0 {
			t.Errorf("%s: join response n=%d p50=%.2f, want n=%d and p50 > 0", name, f.JoinResponseMs.N,
				f.JoinResponseMs.P50, rooms*probes)
		}
		if f.WSToFirstMediaMs.N != rooms || f.WSToJoinedMs.N != rooms {
			t.Errorf("%s: ws->joined n=%d, ws->media n=%d, want %d each (one subscriber per room)", name,
				f.WSToJoinedMs.N, f.WSToFirstMediaMs.N, rooms)
		}
	}
	if d := sp.Added.JoinResponseMs; d.P50 != sp.Target.JoinResponseMs.P50-sp.Direct.JoinResponseMs.P50 {
		t.Errorf("added p50 %.3f is not target - direct", d.P50)
	}
}

// TestRoomsOnASingleServer: a server without cluster.enabled lists itself as its only
// member, so --rooms puts every room on it and reports that one node; --compare-direct
// then compares the server with itself (its own URL is the owner's).
func TestRoomsOnASingleServer(t *testing.T) {
	srv := sfutest.Serve(t)
	scn, err := Preset("lecture", PresetParams{Subscribers: 1})
	if err != nil {
		t.Fatal(err)
	}
	scn.Video.Bitrate, scn.Video.FPS, scn.Video.Width, scn.Video.Height = 200_000, 15, 320, 240
	scn.Duration = 7 * time.Second
	res, err := RunCluster(context.Background(), ClusterOptions{Rooms: 2, PollInterval: 250 * time.Millisecond,
		CompareDirect: true, Probes: 2, ProbeBudget: time.Minute, // every probe, however starved the machine
		Run: Options{Scenario: scn, Target: Target{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: srv.APISecret()}}})
	if res != nil {
		var table strings.Builder
		_ = res.WriteTable(&table)
		t.Log("\n" + table.String())
	}
	if err != nil {
		t.Fatalf("RunCluster: %v", err)
	}
	if len(res.Nodes) != 1 || res.Nodes[0].BenchRooms != 2 || res.Nodes[0].BenchParticipants != 6 {
		t.Fatalf("nodes = %+v, want one node with the 2 rooms and 6 participants", res.Nodes)
	}
	if sp := res.SignalPath; sp == nil || sp.Target.JoinResponseMs.N != 4 || sp.Direct.JoinResponseMs.N != 4 ||
		sp.Direct.WSToFirstMediaMs.N != 2 {
		t.Errorf("signal_path = %+v, want 4 probes per path and 2 direct subscribers with media", sp)
	}
}

// TestRoomsNeedAClusterEndpoint: a server without /admin/cluster (not Atrium) is refused
// before any room starts, with ErrNotCluster.
func TestRoomsNeedAClusterEndpoint(t *testing.T) {
	hs := httptest.NewServer(http.NotFoundHandler())
	defer hs.Close()
	scn, err := Preset("lecture", PresetParams{Subscribers: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = RunCluster(context.Background(), ClusterOptions{Rooms: 2, Run: Options{Scenario: scn,
		Target: Target{URL: hs.URL, APIKey: "k", APISecret: "s"}}})
	if !errors.Is(err, ErrNotCluster) {
		t.Fatalf("RunCluster against a server without /admin/cluster: %v, want ErrNotCluster", err)
	}
}
