// Package turntest starts a real Atrium TURN relay on 127.0.0.1 for tests of other packages
// (the SFU's ice_servers, end-to-end relay-only clients). The relay allows loopback peers, so
// a relay-only client can reach an SFU on 127.0.0.1.
package turntest

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/atrium-live/atrium/turn"
)

// DefaultSecret is the shared secret of a relay started without Options.Secret.
const DefaultSecret = "turntest-secret"

// Options tune Serve. The zero value gives turn.LocalConfig with DefaultSecret.
type Options struct {
	// Secret is the coturn REST shared secret; "" means DefaultSecret.
	Secret string
	// Configure, if set, edits the configuration before the relay starts (quotas, peers...).
	Configure func(*turn.Config)
	// Deps are passed to turn.New; a nil Logger logs warnings and above to t.Log.
	Deps turn.Deps
}

// Relay is a running test relay.
type Relay struct {
	Server *turn.Server
	Addrs  turn.Addrs
	Secret string
	Realm  string
}

// Serve starts a relay listening on UDP and TCP 127.0.0.1 port 0 and stops it when the test
// ends, failing the test if it does not stop cleanly.
func Serve(t testing.TB, opts Options) *Relay {
	t.Helper()
	cfg := turn.LocalConfig()
	cfg.Auth.Secret = opts.Secret
	if cfg.Auth.Secret == "" {
		cfg.Auth.Secret = DefaultSecret
	}
	if opts.Configure != nil {
		opts.Configure(&cfg)
	}
	deps := opts.Deps
	var tw *testWriter
	if deps.Logger == nil {
		tw = &testWriter{t: t}
		deps.Logger = slog.New(slog.NewTextHandler(tw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	srv, err := turn.New(cfg, deps)
	if err != nil {
		t.Fatalf("turntest: turn.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("turntest: relay Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("turntest: relay did not stop within 10s")
		}
		if tw != nil {
			tw.stop()
		}
	})
	return &Relay{Server: srv, Addrs: srv.Addrs(), Secret: cfg.Auth.Secret, Realm: cfg.Realm}
}

// Credentials returns a username and password for identity, valid for ttl from now.
func (r *Relay) Credentials(identity string, ttl time.Duration) (username, password string) {
	return turncred.Generate(r.Secret, identity, ttl, time.Now())
}

// URLs returns the ICE server URLs of the relay's enabled transports, in the form browsers and
// pion accept: turn:127.0.0.1:port?transport=udp and ?transport=tcp.
func (r *Relay) URLs() []string { return turn.ICEURLs(r.Addrs, "") }

// URL returns the one URL for transport "udp" or "tcp", or "" if that listener is off.
func (r *Relay) URL(transport string) string {
	for _, u := range r.URLs() {
		if strings.HasSuffix(u, "?transport="+transport) {
			return u
		}
	}
	return ""
}

// UDPAddr is the relay's UDP listener address, for pion/turn clients.
func (r *Relay) UDPAddr() *net.UDPAddr {
	a, _ := net.ResolveUDPAddr("udp", r.Addrs.UDP)
	return a
}

// testWriter sends log lines to t.Log until the relay has stopped (t.Log after the test ends
// panics, and pion may log while its goroutines unwind).
type testWriter struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.stopped {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

func (w *testWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	w.mu.Unlock()
}
