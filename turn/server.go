// Package turn is Atrium's TURN relay (RFC 8656) on pion/turn: UDP, TCP and TLS listeners,
// coturn REST credentials (pkg/turncred) shared with the SFU, per-user and total allocation
// quotas, a per-allocation bandwidth cap, refusal of private/loopback/link-local peers,
// Prometheus metrics, /healthz and /readyz, and graceful drain.
//
// cmd/atrium builds a Config, calls New (which binds every socket, so port 0 works and Addrs
// is known at once) and Run. turn/turntest starts one on 127.0.0.1 for other packages' tests.
// The package imports no other Atrium service.
package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
)

// Deps are the collaborators a Server takes from its caller. The zero value works.
type Deps struct {
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Registry receives the atrium_turn_* metrics and is what /metrics serves; nil gives the
	// Server a private registry. One Server per registry.
	Registry *prometheus.Registry
	// Now is the clock for credential expiry; nil means time.Now.
	Now func() time.Time
}

// Addrs are the bound addresses of a Server's listeners, "" for a disabled one.
type Addrs struct {
	UDP, TCP, TLS, HTTP string
}

// Server is one TURN relay. Create it with New and serve with Run, once.
type Server struct {
	cfg     Config
	log     *slog.Logger
	reg     *prometheus.Registry
	metrics *metrics
	quotas  *quotas
	auth    *authenticator
	peers   *peerPolicy

	udp    []net.PacketConn
	tcp    *trackingListener
	tlsRaw *trackingListener // the TCP listener under tlsLn, tracked so shutdown closes its conns
	tlsLn  net.Listener
	httpLn net.Listener
	addrs  Addrs

	started  atomic.Bool
	ready    atomic.Bool
	draining atomic.Bool
}

// New validates cfg and binds every listener (UDP, TCP, TLS, HTTP) so that their addresses,
// port 0 resolved, are available from Addrs before Run. Nothing is served until Run. On error
// nothing stays bound.
func New(cfg Config, deps Deps) (_ *Server, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("turn: invalid config: %w", err)
	}
	s := &Server{cfg: cfg, log: deps.Logger, reg: deps.Registry}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	now := deps.Now
	if now == nil {
		now = time.Now
	}
	if s.metrics, err = newMetrics(s.reg); err != nil {
		return nil, err
	}
	if s.peers, err = newPeerPolicy(cfg.Peers); err != nil {
		return nil, fmt.Errorf("turn: peers: %w", err)
	}
	s.quotas = newQuotas(cfg.Quota.AllocationsPerUser, cfg.Quota.AllocationsTotal)
	s.auth = &authenticator{secrets: newSecretSet(cfg.Auth.Secret, cfg.Auth.PreviousSecret), refreshGrace: cfg.Auth.RefreshGrace, now: now, metrics: s.metrics, log: s.log}

	defer func() {
		if err != nil {
			s.closeListeners()
		}
	}()
	ctx := context.Background()
	var lc net.ListenConfig
	if cfg.Listen.UDP != "" {
		n := cfg.Listen.UDPSockets
		if n == 0 {
			n = runtime.GOMAXPROCS(0)
		}
		if s.udp, err = listenUDP(ctx, cfg.Listen.UDP, n); err != nil {
			return nil, err
		}
		s.addrs.UDP = s.udp[0].LocalAddr().String()
	}
	if cfg.Listen.TCP != "" {
		l, err := lc.Listen(ctx, "tcp", cfg.Listen.TCP)
		if err != nil {
			return nil, fmt.Errorf("turn: listen tcp %s: %w", cfg.Listen.TCP, err)
		}
		s.tcp = newTrackingListener(l, cfg.Listen.TCPIdleTimeout)
		s.addrs.TCP = l.Addr().String()
	}
	if cfg.Listen.TLS != "" {
		certs, err := newCertReloader(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			return nil, err
		}
		l, err := lc.Listen(ctx, "tcp", cfg.Listen.TLS)
		if err != nil {
			return nil, fmt.Errorf("turn: listen tls %s: %w", cfg.Listen.TLS, err)
		}
		s.tlsRaw = newTrackingListener(l, cfg.Listen.TCPIdleTimeout)
		s.tlsLn = tls.NewListener(s.tlsRaw, &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.getCertificate})
		s.addrs.TLS = l.Addr().String()
	}
	if cfg.HTTP != "" {
		if s.httpLn, err = lc.Listen(ctx, "tcp", cfg.HTTP); err != nil {
			return nil, fmt.Errorf("turn: listen http %s: %w", cfg.HTTP, err)
		}
		s.addrs.HTTP = s.httpLn.Addr().String()
	}
	return s, nil
}

// Addrs returns the bound listener addresses.
func (s *Server) Addrs() Addrs { return s.addrs }

// SetSecrets replaces the shared secret and the previous one ("" for none) while the relay
// runs: a rotation must not restart the relay, which would drop every live allocation.
// Safe for concurrent use.
func (s *Server) SetSecrets(current, previous string) error {
	if current == "" {
		return errors.New("turn: SetSecrets: the current secret must not be empty")
	}
	s.auth.secrets.set(current, previous)
	return nil
}

// Registry returns the registry holding the relay's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Allocations returns the number of live allocations.
func (s *Server) Allocations() int {
	_, total := s.quotas.count("")
	return total
}

// Run serves until ctx is done, then drains: readiness fails and new allocations are refused
// (486) at once, existing allocations relay until they end or DrainTimeout passes, then every
// socket is closed. Run returns nil after a clean shutdown. It may be called once.
func (s *Server) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("turn: Run called twice")
	}
	ts, err := pionturn.NewServer(s.pionConfig())
	if err != nil {
		s.closeListeners()
		return fmt.Errorf("turn: start: %w", err)
	}
	var httpSrv *http.Server
	httpDone := make(chan error, 1)
	if s.httpLn != nil {
		httpSrv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() { httpDone <- httpSrv.Serve(s.httpLn) }()
	} else {
		httpDone <- http.ErrServerClosed
	}
	s.ready.Store(true)
	s.log.Info("turn: serving", "udp", s.addrs.UDP, "tcp", s.addrs.TCP, "tls", s.addrs.TLS, "http", s.addrs.HTTP)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-httpDone:
		runErr = fmt.Errorf("turn: http listener: %w", err)
		httpDone <- http.ErrServerClosed
	}

	s.draining.Store(true)
	s.ready.Store(false)
	s.drain()
	if err := ts.Close(); err != nil {
		s.log.Warn("turn: close listeners", "err", err)
	}
	for _, l := range []*trackingListener{s.tcp, s.tlsRaw} {
		if l != nil {
			l.closeConns()
		}
	}
	s.waitAllocationsClosed(2 * time.Second)
	if httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_ = httpSrv.Shutdown(sctx)
		cancel()
	}
	if err := <-httpDone; err != nil && !errors.Is(err, http.ErrServerClosed) && runErr == nil {
		runErr = fmt.Errorf("turn: http listener: %w", err)
	}
	s.log.Info("turn: stopped", "allocations_left", s.Allocations())
	return runErr
}

// drain waits, at most DrainTimeout, for live allocations to end.
func (s *Server) drain() {
	if s.Allocations() == 0 || s.cfg.DrainTimeout == 0 {
		return
	}
	s.log.Info("turn: draining", "allocations", s.Allocations(), "timeout", s.cfg.DrainTimeout)
	s.waitAllocationsClosed(s.cfg.DrainTimeout)
}

func (s *Server) waitAllocationsClosed(limit time.Duration) {
	deadline := time.Now().Add(limit)
	for s.Allocations() > 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *Server) closeListeners() {
	closeAll(s.udp)
	for _, l := range []net.Listener{s.httpLn} {
		if l != nil {
			_ = l.Close()
		}
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	if s.tlsRaw != nil {
		_ = s.tlsRaw.Close()
	}
}

// pionConfig wires the listeners, each with its own relay generator (so metrics carry the
// client transport), to pion with Atrium's auth, quota and peer policy.
func (s *Server) pionConfig() pionturn.ServerConfig {
	bind, external, _ := s.cfg.relayIPs() // validated in New
	gen := func(transport string) *relayGenerator {
		var inner pionturn.RelayAddressGenerator
		if s.cfg.Relay.PortMin != 0 {
			inner = &pionturn.RelayAddressGeneratorPortRange{
				RelayAddress: external, Address: bind.String(),
				MinPort: uint16(s.cfg.Relay.PortMin), MaxPort: uint16(s.cfg.Relay.PortMax),
				MaxRetries: 40,
			}
		} else {
			inner = &pionturn.RelayAddressGeneratorStatic{RelayAddress: external, Address: bind.String()}
		}
		g := &relayGenerator{inner: inner, reserve: s.reserveSlot, release: s.quotas.release, metrics: s.metrics.forTransport(transport)}
		if bw := s.cfg.Quota.BandwidthPerAllocation; bw > 0 {
			g.bandwidth, g.burst = rate.Limit(bw), s.cfg.burst()
		}
		return g
	}
	pc := pionturn.ServerConfig{
		Realm:         s.cfg.Realm,
		AuthHandler:   s.auth.handle,
		QuotaHandler:  s.allowAllocation,
		EventHandler:  pionturn.EventHandler{OnAuth: s.auth.onAuth},
		LoggerFactory: pionLoggerFactory{log: s.log},
	}
	if len(s.udp) > 0 {
		g := gen("udp")
		for _, c := range s.udp {
			pc.PacketConnConfigs = append(pc.PacketConnConfigs, pionturn.PacketConnConfig{
				PacketConn: &observingPacketConn{PacketConn: c, secrets: s.auth.secrets, realm: s.cfg.Realm}, RelayAddressGenerator: g, PermissionHandler: s.permitPeer,
			})
		}
	}
	for _, l := range []struct {
		ln        net.Listener
		transport string
	}{{s.tcpListener(), "tcp"}, {s.tlsLn, "tls"}} {
		if l.ln == nil {
			continue
		}
		pc.ListenerConfigs = append(pc.ListenerConfigs, pionturn.ListenerConfig{
			Listener: &observingListener{Listener: l.ln, secrets: s.auth.secrets, realm: s.cfg.Realm}, RelayAddressGenerator: gen(l.transport), PermissionHandler: s.permitPeer,
		})
	}
	return pc
}

func (s *Server) tcpListener() net.Listener {
	if s.tcp == nil {
		return nil
	}
	return s.tcp
}

// allowAllocation is pion's QuotaHandler (false → 486 Allocation Quota Reached). It only
// looks; relayGenerator takes the slot when the relay socket exists.
func (s *Server) allowAllocation(userID, _ string, _ net.Addr) bool {
	if s.draining.Load() {
		s.metrics.rejections.WithLabelValues("draining").Inc()
		return false
	}
	return s.refused(s.quotas.check(userID)) == nil
}

// reserveSlot takes a quota slot for a relay socket being created.
func (s *Server) reserveSlot(userID string) error {
	return s.refused(s.quotas.reserve(userID))
}

// refused counts and logs a quota refusal; it returns err unchanged.
func (s *Server) refused(err error) error {
	if err == nil {
		return nil
	}
	reason := "user_quota"
	if errors.Is(err, ErrTotalQuota) {
		reason = "total_quota"
	}
	s.metrics.rejections.WithLabelValues(reason).Inc()
	s.log.Info("turn: allocation refused", "reason", reason)
	return err
}

// permitPeer is pion's PermissionHandler (false → 403 Forbidden on CreatePermission and
// ChannelBind, so no datagram ever reaches a refused peer).
func (s *Server) permitPeer(_ net.Addr, peer net.IP) bool {
	if s.peers.Permitted(peer) {
		return true
	}
	s.metrics.peerDenied.Inc()
	s.log.Info("turn: peer refused", "peer", peer.String())
	return false
}
