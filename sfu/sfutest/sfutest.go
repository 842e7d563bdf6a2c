// Package sfutest starts a real Atrium SFU inside a test: HTTP and ICE on 127.0.0.1 with
// port 0, dev keys, loopback candidates (and loopback TURN relays) allowed, logs routed to
// t.Log, and everything stopped by t.Cleanup. Other packages' tests (TURN, bench, browser)
// use it to get a server that real LiveKit SDKs can join.
package sfutest

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

	"github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/placement"
	"github.com/atrium-live/atrium/sfu"
)

// Option adjusts the server before it starts.
type Option func(*options)

type options struct {
	cfg      sfu.Config
	logLevel slog.Level
	leases   placement.Leases
	noCPU    bool
}

// WithoutCPULoad makes the node gossip no CPU load: nodes of one in-process cluster share
// one process, so its CPU would only add noise to their placement.
func WithoutCPULoad() Option { return func(o *options) { o.noCPU = true } }

// WithLeases makes the server keep room leases in l (several in-process nodes of one
// cluster share one store).
func WithLeases(l placement.Leases) Option { return func(o *options) { o.leases = l } }

// WithConfig lets a test change the configuration (webhook URLs, TURN, timeouts...).
// Addresses default to 127.0.0.1:0; keep them on loopback.
func WithConfig(f func(*sfu.Config)) Option { return func(o *options) { f(&o.cfg) } }

// WithLogLevel sets the level of logs copied to t.Log (default warn; ATRIUM_TEST_LOG=debug
// overrides it for a whole run).
func WithLogLevel(l slog.Level) Option { return func(o *options) { o.logLevel = l } }

// Server is a running SFU.
type Server struct {
	*sfu.Server
	key, secret string
}

// MetricsToken is the bearer token Config sets for /metrics on the public listener.
const MetricsToken = "sfutest-metrics-token"

// Config is the configuration Serve starts from: dev mode on loopback with port 0
// everywhere and short timeouts.
func Config() sfu.Config {
	c := sfu.DevConfig()
	c.HTTPAddr = "127.0.0.1:0"
	c.RTC.UDPAddr = "127.0.0.1:0"
	c.Room.EmptyTimeout = 3 * time.Second
	c.DrainTimeout = 2 * time.Second
	c.Signal.QualityInterval = time.Second
	c.Webhook.Backoff = 50 * time.Millisecond
	c.Webhook.Retries = 3
	c.MetricsToken = MetricsToken
	return c
}

// Serve starts an SFU for the duration of the test; it fails the test if it cannot start.
func Serve(t testing.TB, opts ...Option) *Server {
	t.Helper()
	o := options{cfg: Config(), logLevel: slog.LevelWarn}
	for _, f := range opts {
		f(&o)
	}
	if lv := os.Getenv("ATRIUM_TEST_LOG"); lv != "" {
		_ = o.logLevel.UnmarshalText([]byte(strings.ToUpper(lv)))
	}
	w := &testWriter{t: t}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: o.logLevel}))
	deps := sfu.Deps{Logger: log, Leases: o.leases}
	if o.noCPU {
		deps.CPUTime = func() time.Duration { return 0 }
	}
	srv, err := sfu.New(o.cfg, deps)
	if err != nil {
		t.Fatalf("sfutest: sfu.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("sfutest: Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("sfutest: server did not stop within 20 s")
		}
		w.stop()
	})
	key, secret := sfu.DevAPIKey, sfu.DevAPISecret
	if len(o.cfg.Keys) > 0 {
		for k, v := range o.cfg.Keys {
			key, secret = k, v
			break
		}
	}
	return &Server{Server: srv, key: key, secret: secret}
}

// URL is the ws:// URL SDKs connect to.
func (s *Server) URL() string { return "ws://" + s.Addr().String() }

// HTTPURL is the http:// base URL (/healthz, /metrics, /rtc/validate).
func (s *Server) HTTPURL() string { return "http://" + s.Addr().String() }

// APIKey and APISecret sign tokens this server accepts.
func (s *Server) APIKey() string    { return s.key }
func (s *Server) APISecret() string { return s.secret }

// TokenOption adjusts a token minted by Token.
type TokenOption func(*access.NewToken)

// Grant edits the video grant (starting from roomJoin on the room).
func Grant(f func(*auth.VideoGrant)) TokenOption {
	return func(n *access.NewToken) { f(n.Grant) }
}

// CanPublish, CanSubscribe and CanPublishData set those grants.
func CanPublish(v bool) TokenOption { return Grant(func(g *auth.VideoGrant) { g.SetCanPublish(v) }) }
func CanSubscribe(v bool) TokenOption {
	return Grant(func(g *auth.VideoGrant) { g.SetCanSubscribe(v) })
}
func CanPublishData(v bool) TokenOption {
	return Grant(func(g *auth.VideoGrant) { g.SetCanPublishData(v) })
}

// Hidden makes the participant invisible to others (recorders).
func Hidden() TokenOption { return Grant(func(g *auth.VideoGrant) { g.Hidden = true }) }

// RoomAdmin grants roomAdmin.
func RoomAdmin() TokenOption { return Grant(func(g *auth.VideoGrant) { g.RoomAdmin = true }) }

// TTL sets the token lifetime (negative makes an expired token).
func TTL(d time.Duration) TokenOption { return func(n *access.NewToken) { n.TTL = d } }

// RoomPreset names the room preset a join that starts the room uses.
func RoomPreset(name string) TokenOption { return func(n *access.NewToken) { n.RoomPreset = name } }

// Name and Metadata set the participant's display name and metadata.
func Name(v string) TokenOption     { return func(n *access.NewToken) { n.Name = v } }
func Metadata(v string) TokenOption { return func(n *access.NewToken) { n.Metadata = v } }

// Token mints a token for room and identity; it fails the process-level test helper
// contract only by panicking, since minting with valid keys cannot fail.
func (s *Server) Token(room, identity string, opts ...TokenOption) string {
	n := access.NewToken{APIKey: s.key, APISecret: s.secret, Room: room, Identity: identity,
		Grant: &auth.VideoGrant{RoomJoin: true, Room: room}}
	for _, f := range opts {
		f(&n)
	}
	if n.TTL < 0 {
		// An already expired token: auth.AccessToken refuses a negative validity, so
		// shift the clock instead.
		tok, err := expiredToken(n)
		if err != nil {
			panic(fmt.Sprintf("sfutest: %v", err))
		}
		return tok
	}
	tok, err := n.Mint()
	if err != nil {
		panic(fmt.Sprintf("sfutest: %v", err))
	}
	return tok
}

// testWriter copies log lines to t.Log until the server has stopped (logging after the test
// ends would panic).
type testWriter struct {
	t       testing.TB
	mu      sync.Mutex
	stopped atomic.Bool
}

var _ io.Writer = (*testWriter)(nil)

func (w *testWriter) Write(b []byte) (int, error) {
	if w.stopped.Load() {
		return len(b), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped.Load() {
		w.t.Log(strings.TrimRight(string(b), "\n"))
	}
	return len(b), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped.Store(true)
	w.mu.Unlock()
}

// TokenFor mints a token with default grants (join, publish, subscribe, data) for servers
// not started by Serve.
func TokenFor(apiKey, apiSecret, room, identity string) string {
	tok, err := access.NewToken{APIKey: apiKey, APISecret: apiSecret, Room: room, Identity: identity}.Mint()
	if err != nil {
		panic(fmt.Sprintf("sfutest: %v", err))
	}
	return tok
}
