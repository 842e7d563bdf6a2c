package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/atrium-live/atrium/pkg/placement"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/signaling"
)

// devCluster is `atrium dev --sfu-nodes N`: N SFU nodes and a signal gateway in this
// process on 127.0.0.1, joined by gossip (the "local" preset) and sharing one in-memory
// lease store, so placement, drain and routing can be watched on a laptop (docs/cluster.md).
// Node i serves HTTP on 127.0.0.1:(7890+i), ICE on UDP 127.0.0.1:(7900+i) and gossip on
// 127.0.0.1:(7946+i); the gateway takes the SFU's usual address (base.HTTPAddr, 7880) and
// gossip port 7945.
type devCluster struct {
	nodes   []*sfu.Server
	gateway *signaling.Gateway
}

// newDevCluster builds the nodes from base (the dev SFU config with keys, TURN and webhooks
// already set).
func newDevCluster(base sfu.Config, n int, log *slog.Logger) (*devCluster, error) {
	if n < 1 || n > 9 {
		return nil, fmt.Errorf("--sfu-nodes must be between 1 and 9, got %d", n)
	}
	leases := placement.NewMemory(time.Now)
	dc := &devCluster{}
	seed := "127.0.0.1:7946"
	for i := 0; i < n; i++ {
		cfg := base
		cfg.NodeID = fmt.Sprintf("sfu-%d", i+1)
		cfg.HTTPAddr = fmt.Sprintf("127.0.0.1:%d", 7890+i)
		cfg.RTC.UDPAddr = fmt.Sprintf("127.0.0.1:%d", 7900+i)
		cfg.Cluster.Enabled = true
		cfg.Cluster.Preset = "local"
		cfg.Cluster.BindAddr = fmt.Sprintf("127.0.0.1:%d", 7946+i)
		cfg.Cluster.Seeds = nil
		if i > 0 {
			cfg.Cluster.Seeds = []string{seed}
		}
		s, err := sfu.New(cfg, sfu.Deps{Logger: log.With("role", "sfu", "node", cfg.NodeID), Leases: leases})
		if err != nil {
			dc.close()
			return nil, fmt.Errorf("dev SFU node %d: %w", i+1, err)
		}
		dc.nodes = append(dc.nodes, s)
	}
	gcfg := signaling.DevConfig()
	gcfg.NodeID = "signal-1"
	gcfg.HTTPAddr = base.HTTPAddr
	gcfg.Keys = base.Keys
	gcfg.Egress = base.Egress // the gateway serves the Egress API like the nodes
	gcfg.Cluster.BindAddr = "127.0.0.1:7945"
	gcfg.Cluster.Seeds = []string{seed}
	g, err := signaling.New(gcfg, signaling.Deps{Logger: log.With("role", "signal"), Leases: leases})
	if err != nil {
		dc.close()
		return nil, fmt.Errorf("dev gateway: %w", err)
	}
	dc.gateway = g
	return dc, nil
}

// run runs every node and the gateway until ctx is cancelled; the first to fail stops all.
func (dc *devCluster) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(dc.nodes)+1)
	for _, s := range dc.nodes {
		go func(s *sfu.Server) { errs <- s.Run(ctx) }(s)
	}
	go func() { errs <- dc.gateway.Run(ctx) }()
	var first error
	for range len(dc.nodes) + 1 {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
		cancel()
	}
	return first
}

func (dc *devCluster) close() {
	for _, s := range dc.nodes {
		s.Close()
	}
}

func (dc *devCluster) printBanner(w io.Writer) {
	fmt.Fprintf(w, "  signal gateway   ws://%s   (routes each room to its node)\n", dc.gateway.Addr())
	for _, s := range dc.nodes {
		fmt.Fprintf(w, "  SFU node %-7s ws://%s   ICE udp %s\n", s.NodeID(), s.Addr(), s.ICEUDPAddr())
	}
}
