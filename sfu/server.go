// Package sfu is an Atrium media node: it terminates LiveKit's signal protocol on /rtc, owns
// every PeerConnection, keeps rooms and participants, enforces token grants, relays data
// packets, sends webhooks and serves health and metrics. Packets themselves are moved by
// sfu/internal/media; the seam is described in docs/sfu-internals.md.
//
// Use New and then Run; cmd/atrium and sfutest are the callers.
package sfu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/egress"
	"github.com/atrium-live/atrium/pkg/placement"
	"github.com/atrium-live/atrium/sfu/internal/media"
	"github.com/atrium-live/atrium/sfu/internal/webhook"
)

// Deps are what the caller hands the server. Every field may be zero.
type Deps struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Registry collects the node's metrics and is served on /metrics; nil makes a private one,
	// which also holds the Go runtime and process collectors (a given one is left as it is).
	Registry *prometheus.Registry
	// HTTPListener, if set, is served instead of listening on Config.HTTPAddr.
	HTTPListener net.Listener
	// ICEUDPConn and ICETCPListener, if set, replace Config.RTC.UDPAddr / TCPAddr.
	ICEUDPConn     net.PacketConn
	ICETCPListener net.Listener
	// Now is the clock (tests); nil means time.Now.
	Now func() time.Time
	// CPUTime, if set, replaces the process's CPU time (getrusage) in the load the node
	// gossips. Nodes sharing one process (in-process test clusters) cannot tell their CPU
	// apart, so their tests give each none and placement follows room counts.
	CPUTime func() time.Duration
	// Leases, if set, hold room ownership instead of the store Config.Placement names (tests
	// share one between in-process nodes).
	Leases placement.Leases
}

// Server is one SFU node. Create it with New, start it with Run.
type Server struct {
	cfg          Config
	log          *slog.Logger
	keys         access.Keys
	now          func() time.Time
	tr           *transport
	httpLn       net.Listener
	httpSrv      *http.Server
	ops          *opsListener // internal /metrics + pprof listener; nil without MetricsAddr
	reg          *prometheus.Registry
	metrics      *metrics
	mediaMetrics *media.Metrics
	hooks        *webhook.Notifier // nil without webhook URLs
	rooms        *roomManager
	node         *node
	relay        *relayService // nil when relaying is off
	egressAPI    http.Handler  // nil unless cfg.Egress names the recorders' Redis
	closeEgress  func() error
	drainer      drainer

	ready    atomic.Bool
	draining atomic.Bool
	runOnce  sync.Once
}

// New validates cfg, opens the listeners (so Addr and ICEUDPAddr are known before Run) and
// builds the server. Call Run to serve; if Run is never called, call Close.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sfu: config: %w", err)
	}
	keys, err := cfg.apiKeys()
	if err != nil {
		return nil, fmt.Errorf("sfu: %w", err)
	}
	s := &Server{cfg: cfg, log: deps.Logger, keys: keys, now: deps.Now, reg: deps.Registry}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.reg == nil {
		// A private registry also carries the Go runtime and process metrics (heap, goroutines,
		// RSS): operators alert on them and `make soak` reads the live heap from them, since
		// pprof's text heap profile allocates in proportion to its history before it reports.
		s.reg = prometheus.NewRegistry()
		s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	if s.cfg.NodeID == "" {
		s.cfg.NodeID = "ND_local"
		if h, err := os.Hostname(); err == nil && cfg.Cluster.Enabled {
			s.cfg.NodeID = h // unique per machine (a pod's name on Kubernetes)
		}
	}
	s.metrics, err = newMetrics(s.reg)
	if err != nil {
		return nil, fmt.Errorf("sfu: metrics: %w", err)
	}
	s.mediaMetrics = media.NewMetrics("atrium")
	if err := s.mediaMetrics.Register(s.reg); err != nil {
		return nil, fmt.Errorf("sfu: %w", err)
	}
	s.tr, err = newTransport(transportParams{Config: cfg.RTC, UDPConn: deps.ICEUDPConn, TCPLn: deps.ICETCPListener, Logger: s.log})
	if err != nil {
		return nil, err
	}
	s.httpLn = deps.HTTPListener
	if s.httpLn == nil {
		if s.httpLn, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
			s.tr.close()
			return nil, fmt.Errorf("sfu: listen %s: %w", cfg.HTTPAddr, err)
		}
	}
	if s.ops, err = s.openOps(cfg.MetricsAddr); err != nil {
		_ = s.httpLn.Close()
		s.tr.close()
		return nil, err
	}
	if len(cfg.Webhook.URLs) > 0 {
		key := cfg.Webhook.APIKey
		if key == "" {
			for k := range keys {
				key = k
			}
		}
		s.hooks = webhook.New(webhook.Params{
			URLs: cfg.Webhook.URLs, APIKey: key, APISecret: keys[key],
			Retries: cfg.Webhook.Retries, Timeout: cfg.Webhook.Timeout, Backoff: cfg.Webhook.Backoff,
			QueueLen: cfg.Webhook.QueueLen, Logger: s.log.With("component", "webhook"),
			OnDrop: func(string) { s.metrics.webhookErrors.Inc() },
		})
	}
	s.egressAPI, s.closeEgress = cfg.Egress.Open(keys, s.log.With("component", "egress"))
	if s.relay, err = newRelayService(s); err != nil {
		s.tr.close()
		_ = s.httpLn.Close()
		return nil, err
	}
	s.rooms = newRoomManager(roomDeps{
		relay: s.relay,
		log:   s.log, now: s.now, signal: cfg.Signal, notify: s.notify,
		draining: s.draining.Load, release: func(room string) { s.node.release(room) },
		roomsGauge: s.metrics.rooms,
	})
	s.drainer.s = s
	if s.node, err = newNode(s, deps.Leases); err == nil && deps.CPUTime != nil {
		s.node.cpuTime = deps.CPUTime
	}
	if err != nil {
		s.tr.close()
		_ = s.httpLn.Close()
		return nil, err
	}
	s.httpSrv = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// Addr is the HTTP address (/rtc, /healthz, ...).
func (s *Server) Addr() net.Addr { return s.httpLn.Addr() }

// ICEUDPAddr is the muxed ICE UDP address, or nil when per-connection ports are used.
func (s *Server) ICEUDPAddr() net.Addr { return s.tr.udpAddr() }

// NodeID is the node's id in the cluster.
func (s *Server) NodeID() string { return s.cfg.NodeID }

// GossipAddr is the bound gossip address once Run has joined the cluster ("" otherwise).
func (s *Server) GossipAddr() string {
	if g := s.node.gossipCluster(); g != nil {
		return g.Addr()
	}
	return ""
}

// Members lists the cluster as this node sees it.
func (s *Server) Members() []cluster.Meta { return s.node.Members() }

// Registry is where the server's metrics are registered.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	// Signal requests go through the router: verified, then served here if this node owns
	// the room, or proxied to the node that does.
	mux.Handle("/rtc", s.signalRouter(http.HandlerFunc(s.handleRTC)))
	mux.Handle("/rtc/validate", allowAnyOrigin(s.signalRouter(http.HandlerFunc(s.handleValidate))))
	mux.HandleFunc("/admin/drain", s.handleDrain)
	mux.HandleFunc("/admin/cluster", s.handleCluster)
	// Single-PeerConnection signalling is not implemented: 404 makes livekit-client fall
	// back to /rtc (docs/protocol.md).
	mux.HandleFunc("/rtc/v1", http.NotFound)
	mux.Handle("/rtc/v1/validate", allowAnyOrigin(http.NotFoundHandler()))
	prefix, api := s.twirpHandler()
	mux.Handle(prefix, api)
	if s.egressAPI != nil {
		mux.Handle(egress.PathPrefix, s.egressAPI)
	}
	mux.HandleFunc("/healthz", s.handleHealthz)
	mux.HandleFunc("/readyz", s.handleReadyz)
	mux.Handle("/metrics", s.metricsHandler())
	return mux
}

// Run serves until ctx is cancelled, then drains: readiness fails at once, new joins are
// refused, and existing participants may stay until their rooms empty or DrainTimeout passes,
// after which they are told to leave. Run returns nil after a clean drain.
func (s *Server) Run(ctx context.Context) error {
	started := false
	s.runOnce.Do(func() { started = true })
	if !started {
		return errors.New("sfu: Run called twice")
	}
	if err := s.node.start(ctx); err != nil {
		_ = s.httpLn.Close()
		s.tr.close()
		if s.hooks != nil {
			s.hooks.Close(context.Background())
		}
		return err
	}
	if s.relay != nil {
		s.relay.start()
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.httpSrv.Serve(s.httpLn) }()
	s.ops.serve()
	s.ready.Store(true)
	s.log.Info("sfu serving", "http", s.Addr().String(), "ice_udp", fmt.Sprint(s.ICEUDPAddr()), "dev", s.cfg.Dev)

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
		err = fmt.Errorf("sfu: http: %w", err)
	}
	s.finalDrain(s.cfg.DrainTimeout)

	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e := s.httpSrv.Shutdown(shutCtx); e != nil && err == nil {
		err = fmt.Errorf("sfu: http shutdown: %w", e)
	}
	s.ops.close()
	s.rooms.closeAll()
	if s.relay != nil {
		s.relay.close()
	}
	s.node.close()
	_ = s.closeEgress()
	if s.hooks != nil {
		s.hooks.Close(shutCtx)
	}
	s.tr.close()
	s.log.Info("sfu stopped")
	return err
}

// Close releases the listeners of a server whose Run was never called.
func (s *Server) Close() {
	started := false
	s.runOnce.Do(func() { started = true })
	if started {
		_ = s.httpLn.Close()
		s.ops.close()
		s.tr.close()
		if s.relay != nil {
			s.relay.close()
		}
		_ = s.closeEgress()
		if s.hooks != nil {
			s.hooks.Close(context.Background())
		}
	}
}

func (s *Server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"status\":\"ok\",\"version\":%q,\"livekit_protocol\":%d,\"livekit_version\":%q}\n",
		atriumVersion(), ProtocolVersion, LiveKitVersion)
}

func (s *Server) handleReadyz(w http.ResponseWriter, _ *http.Request) {
	if !s.ready.Load() {
		http.Error(w, "draining", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ready")
}
