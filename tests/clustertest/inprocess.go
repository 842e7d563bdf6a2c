package clustertest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/placement"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/signaling"
)

// Cluster is n SFU nodes and a gateway in this test process: gossip on 127.0.0.1 with
// port 0 and the "local" preset, one shared lease store.
type Cluster struct {
	t       *testing.T
	Nodes   []*sfutest.Server
	Gateway *signaling.Gateway
	Leases  placement.Leases
}

type Options struct {
	Nodes     int
	Leases    placement.Leases
	Configure func(i int, c *sfu.Config)
}

// startCluster starts the nodes one by one (each seeded with the first) and the gateway,
// and waits until every member sees all the others.
func Start(t *testing.T, o Options) *Cluster {
	t.Helper()
	if o.Leases == nil {
		o.Leases = placement.NewMemory(time.Now)
	}
	tc := &Cluster{t: t, Leases: o.Leases}
	seed := ""
	for i := 0; i < o.Nodes; i++ {
		id := fmt.Sprintf("sfu-%d", i+1)
		srv := sfutest.Serve(t, sfutest.WithLeases(o.Leases), sfutest.WithoutCPULoad(), sfutest.WithConfig(func(c *sfu.Config) {
			c.NodeID = id
			c.Cluster.Enabled = true
			c.Cluster.Preset = "local"
			c.Cluster.BindAddr = "127.0.0.1:0"
			c.Cluster.LoadInterval = 500 * time.Millisecond
			if seed != "" {
				c.Cluster.Seeds = []string{seed}
			}
			c.Placement.LeaseTTL = 3 * time.Second
			if o.Configure != nil {
				o.Configure(i, c)
			}
		}))
		if i == 0 {
			WaitFor(t, 5*time.Second, "the first node to join gossip", func() bool { return srv.GossipAddr() != "" })
			seed = srv.GossipAddr()
		}
		tc.Nodes = append(tc.Nodes, srv)
	}
	tc.Gateway = StartGateway(t, seed, o.Leases)
	tc.WaitConverged(o.Nodes + 1)
	return tc
}

// startGateway runs a gateway seeded with seed until the test ends.
func StartGateway(t *testing.T, seed string, leases placement.Leases) *signaling.Gateway {
	t.Helper()
	cfg := signaling.DevConfig()
	cfg.NodeID = "gw-1"
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.Cluster.BindAddr = "127.0.0.1:0"
	cfg.Cluster.Seeds = []string{seed}
	cfg.Placement.LeaseTTL = 3 * time.Second
	g, err := signaling.New(cfg, signaling.Deps{Logger: Logger(t), Leases: leases})
	if err != nil {
		t.Fatalf("signaling.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
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
	return g
}

// waitConverged waits until every node and the gateway see n members.
func (tc *Cluster) WaitConverged(n int) {
	tc.t.Helper()
	WaitFor(tc.t, 10*time.Second, fmt.Sprintf("every member to see %d members", n), func() bool {
		if len(tc.Gateway.Members()) != n {
			return false
		}
		for _, s := range tc.Nodes {
			if len(s.Members()) != n {
				return false
			}
		}
		return true
	})
}

func (tc *Cluster) GatewayURL() string { return "ws://" + tc.Gateway.Addr().String() }
func (tc *Cluster) GatewayHTTP() string {
	return "http://" + tc.Gateway.Addr().String()
}

// node returns the node with id.
func (tc *Cluster) Node(id string) *sfutest.Server {
	for _, s := range tc.Nodes {
		if s.NodeID() == id {
			return s
		}
	}
	tc.t.Fatalf("no node %q", id)
	return nil
}

// owner is the room's lease owner.
func (tc *Cluster) Owner(room string) string {
	o, err := tc.Leases.Owner(context.Background(), room)
	if err != nil {
		tc.t.Fatalf("Owner(%s): %v", room, err)
	}
	return o
}

// token mints a participant token any node accepts (all share the dev keys).
func (tc *Cluster) Token(room, identity string, opts ...sfutest.TokenOption) string {
	return tc.Nodes[0].Token(room, identity, opts...)
}

func WaitFor(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// testLogger copies logs at warn and above (ATRIUM_TEST_LOG=debug for more) to t.Log until
// the test ends.
func Logger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if lv := os.Getenv("ATRIUM_TEST_LOG"); lv != "" {
		_ = level.UnmarshalText([]byte(strings.ToUpper(lv)))
	}
	w := &tlogWriter{t: t}
	t.Cleanup(func() { w.mu.Lock(); w.done.Store(true); w.mu.Unlock() })
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

type tlogWriter struct {
	t    testing.TB
	mu   sync.Mutex
	done atomic.Bool
}

var _ io.Writer = (*tlogWriter)(nil)

func (w *tlogWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done.Load() {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}
