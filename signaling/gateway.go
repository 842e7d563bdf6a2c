package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/egress"
	"github.com/atrium-live/atrium/pkg/opsauth"
	"github.com/atrium-live/atrium/pkg/placement"
	"github.com/atrium-live/atrium/pkg/roomapi"
	"github.com/atrium-live/atrium/pkg/sigroute"
	"github.com/atrium-live/atrium/pkg/version"
)

// Deps are what the caller hands the gateway; every field may be zero.
type Deps struct {
	Logger       *slog.Logger
	Registry     *prometheus.Registry
	HTTPListener net.Listener
	// Leases, if set, replace the store Config.Placement names (tests share one).
	Leases placement.Leases
}

// Gateway is `atrium signal`: it holds no room state, so any number of them can sit behind
// a load balancer. Create with New, run with Run.
type Gateway struct {
	cfg     Config
	log     *slog.Logger
	keys    access.Keys
	reg     *prometheus.Registry
	ln      net.Listener
	srv     *http.Server
	leases  placement.Leases
	closeLs func() error
	// egressAPI serves LiveKit's Egress API when cfg.Egress names the recorders' Redis.
	egressAPI   http.Handler
	closeEgress func() error

	mu      sync.Mutex
	gossip  *cluster.Cluster
	placer  *placement.Placer
	started atomic.Bool

	routes *prometheus.CounterVec
	routeT *prometheus.HistogramVec
}

// New validates cfg and opens the HTTP listener.
func New(cfg Config, deps Deps) (*Gateway, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("signal: config: %w", err)
	}
	keys, err := cfg.apiKeys()
	if err != nil {
		return nil, fmt.Errorf("signal: %w", err)
	}
	g := &Gateway{cfg: cfg, log: deps.Logger, keys: keys, reg: deps.Registry, ln: deps.HTTPListener, leases: deps.Leases}
	if g.log == nil {
		g.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if g.reg == nil {
		g.reg = prometheus.NewRegistry()
	}
	g.routes = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atrium_signal_routes_total",
		Help: "Signal requests by routing outcome (proxied, unauthorized, unavailable, too_many_hops)."}, []string{"outcome"})
	g.routeT = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "atrium_signal_route_seconds",
		Help:    "Time to route a signal request: verification, lookup and, for WebSockets, the owner's upgrade.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"outcome"})
	if err := g.reg.Register(g.routes); err != nil {
		return nil, fmt.Errorf("signal: metrics: %w", err)
	}
	if err := g.reg.Register(g.routeT); err != nil {
		return nil, fmt.Errorf("signal: metrics: %w", err)
	}
	g.closeLs = func() error { return nil }
	if g.leases == nil {
		g.leases, g.closeLs = cfg.Placement.Open()
	}
	if g.ln == nil {
		if g.ln, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			_ = g.closeLs()
			return nil, fmt.Errorf("signal: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	g.egressAPI, g.closeEgress = cfg.Egress.Open(keys, g.log.With("component", "egress"))
	g.srv = &http.Server{Handler: g.handler(), ReadHeaderTimeout: 10 * time.Second}
	return g, nil
}

// Registry is where the gateway's metrics are registered.
func (g *Gateway) Registry() *prometheus.Registry { return g.reg }

// Addr is the HTTP address.
func (g *Gateway) Addr() net.Addr { return g.ln.Addr() }

// GossipAddr is the bound gossip address once Run has joined the cluster ("" before).
func (g *Gateway) GossipAddr() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.gossip == nil {
		return ""
	}
	return g.gossip.Addr()
}

// Members lists the cluster as the gateway sees it (nil before Run joins).
func (g *Gateway) Members() []cluster.Meta {
	if c := g.cluster(); c != nil {
		return c.Members()
	}
	return nil
}

func (g *Gateway) cluster() *cluster.Cluster {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gossip
}

// Locate implements sigroute.Locator once Run has started.
func (g *Gateway) Locate(ctx context.Context, room string) (string, error) {
	g.mu.Lock()
	p := g.placer
	g.mu.Unlock()
	if p == nil {
		return "", errors.New("signal: gateway not started")
	}
	return p.Locate(ctx, room)
}

// Owner is a room's owner without placing it.
func (g *Gateway) Owner(ctx context.Context, room string) (string, error) {
	return g.leases.Owner(ctx, room)
}

// Member and Alive resolve members through gossip.
func (g *Gateway) Member(id string) (cluster.Meta, bool) {
	if c := g.cluster(); c != nil {
		return c.Member(id)
	}
	return cluster.Meta{}, false
}

// Alive reports whether gossip sees id alive.
func (g *Gateway) Alive(id string) bool {
	c := g.cluster()
	return c != nil && c.Alive(id)
}

func (g *Gateway) handler() http.Handler {
	mux := http.NewServeMux()
	rt := sigroute.New(sigroute.Params{
		Keys: g.keys, Locator: g, Directory: g, DialWait: g.cfg.DialWait,
		Logger: g.log.With("component", "sigroute"),
		Observe: func(o sigroute.Outcome, d time.Duration) {
			g.routes.WithLabelValues(string(o)).Inc()
			g.routeT.WithLabelValues(string(o)).Observe(d.Seconds())
		},
	})
	mux.Handle("/rtc", rt)
	mux.Handle("/rtc/validate", allowAnyOrigin(rt))
	mux.HandleFunc("/rtc/v1", http.NotFound)
	mux.Handle("/rtc/v1/validate", allowAnyOrigin(http.NotFoundHandler()))
	prefix, api := roomapi.Handler(roomapi.Params{
		Keys: g.keys, Owners: g, Locator: g, Members: g,
		OnUnauthenticated: func() { g.routes.WithLabelValues("api_unauthenticated").Inc() },
	})
	mux.Handle(prefix, api)
	if g.egressAPI != nil {
		mux.Handle(egress.PathPrefix, g.egressAPI)
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"status\":\"ok\",\"role\":\"signal\",\"version\":%q}\n", version.Version)
	})
	mux.HandleFunc("/readyz", g.handleReadyz)
	mux.HandleFunc("/admin/cluster", g.handleCluster)
	mux.Handle("/metrics", opsauth.Guard(g.cfg.MetricsToken, promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{})))
	return mux
}

// handleReadyz: ready once the gateway has joined gossip and sees a serving SFU node.
// Liveness (/healthz) depends on nothing.
func (g *Gateway) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	if !g.started.Load() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	for _, m := range g.Members() {
		if m.Role == cluster.RoleSFU && m.State == cluster.StateServing {
			fmt.Fprintln(w, "ready")
			return
		}
	}
	http.Error(w, "no serving SFU node known", http.StatusServiceUnavailable)
}

// allowAnyOrigin lets browsers read /rtc/validate answers (livekit-client fetches them).
func allowAnyOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Run joins the cluster, serves until ctx is cancelled, then leaves gossip and stops.
func (g *Gateway) Run(ctx context.Context) error {
	gcfg, err := g.cfg.Cluster.GossipConfig(g.cfg.NodeID, g.log.With("component", "gossip"))
	if err != nil {
		return err
	}
	meta := cluster.Meta{NodeID: g.cfg.NodeID, Role: cluster.RoleSignal, SignalURL: g.cfg.Cluster.SignalURLFor(g.Addr()),
		State: cluster.StateServing, Version: version.Version}
	gossip, err := cluster.Join(ctx, gcfg, meta)
	if err != nil {
		_ = g.ln.Close()
		return fmt.Errorf("signal: join cluster: %w", err)
	}
	placer := placement.NewPlacer(placement.PlacerConfig{
		Leases: g.leases, Members: gossip, TTL: g.cfg.Placement.LeaseTTL,
		Rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())), Logger: g.log.With("component", "placement"),
	})
	g.mu.Lock()
	g.gossip, g.placer = gossip, placer
	g.mu.Unlock()
	events, unsubscribe := gossip.Subscribe()
	stopWatch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer unsubscribe()
		g.watch(events, stopWatch)
	}()

	if g.cfg.MetricsAddr != "" {
		ln, err := net.Listen("tcp", g.cfg.MetricsAddr)
		if err != nil {
			_ = gossip.Leave(ctx)
			_ = g.ln.Close()
			return fmt.Errorf("signal: metrics listen %s: %w", g.cfg.MetricsAddr, err)
		}
		ops := &http.Server{Handler: opsauth.Mux(promhttp.HandlerFor(g.reg, promhttp.HandlerOpts{})), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = ops.Serve(ln) }()
		defer ops.Close()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- g.srv.Serve(g.ln) }()
	g.started.Store(true)
	g.log.Info("signal gateway serving", "http", g.Addr().String(), "gossip", gossip.Addr())
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("signal: http: %w", err)
	}
	g.started.Store(false)
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Proxied WebSockets are hijacked connections: Shutdown does not wait for them, and
	// clients reconnect through another gateway.
	if e := g.srv.Shutdown(shutCtx); e != nil && err == nil {
		err = fmt.Errorf("signal: http shutdown: %w", e)
	}
	close(stopWatch)
	wg.Wait()
	if e := gossip.Leave(shutCtx); e != nil {
		g.log.Info("gossip leave", "err", e)
	}
	_ = g.closeLs()
	_ = g.closeEgress()
	g.log.Info("signal gateway stopped")
	return err
}

// watch releases the leases of SFU nodes gossip declares dead, so their rooms are placed
// again at once.
func (g *Gateway) watch(events <-chan cluster.Event, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Kind != cluster.EventDead || ev.Member.Role != cluster.RoleSFU {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			n, err := g.leases.ReleaseAll(ctx, ev.Member.NodeID)
			cancel()
			g.log.Warn("SFU node dead", "node", ev.Member.NodeID, "leases_released", n, "err", err)
		}
	}
}

// handleCluster lists the cluster as the gateway sees it, for an operator's token (roomCreate
// and roomList grants).
func (g *Gateway) handleCluster(w http.ResponseWriter, r *http.Request) {
	if !access.RequireOperator(w, r, g.keys) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"self": g.cfg.NodeID, "members": g.Members()})
}
