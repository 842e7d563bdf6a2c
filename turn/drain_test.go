package turn_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/atrium-live/atrium/turn"
	"github.com/atrium-live/atrium/turn/turntest"
)

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Health endpoints follow the lifecycle; on shutdown readiness fails at once, new allocations
// get 486, live ones keep relaying until the drain deadline, then Run returns.
func TestLifecycleAndDrain(t *testing.T) {
	cfg := turn.LocalConfig()
	cfg.Auth.Secret = "drain-secret"
	cfg.DrainTimeout = 3 * time.Second
	srv, err := turn.New(cfg, turn.Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	base := "http://" + srv.Addrs().HTTP
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()

	eventually(t, 5*time.Second, "readyz 200", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 200 })
	if code, _ := httpGet(t, base+"/healthz"); code != 200 {
		t.Fatalf("healthz = %d, want 200", code)
	}
	creds := func(id string) (string, string) { return turncred.Generate(cfg.Auth.Secret, id, time.Hour, time.Now()) }
	u, p := creds("live")
	live := newClient(t, clientParams{transport: "udp", addr: srv.Addrs().UDP, username: u, password: p})
	rc := allocate(t, live)
	peer := newPeer(t)
	exchange(t, rc, peer, 1)
	if code, body := httpGet(t, base+"/metrics"); code != 200 || !strings.Contains(body, "atrium_turn_allocations{transport=\"udp\"} 1") {
		t.Fatalf("metrics = %d, missing the live allocation:\n%s", code, body)
	}

	stopAt := time.Now()
	cancel()
	eventually(t, time.Second, "readyz 503 once draining", func() bool { code, _ := httpGet(t, base+"/readyz"); return code == 503 })
	u2, p2 := creds("late")
	late := newClient(t, clientParams{transport: "udp", addr: srv.Addrs().UDP, username: u2, password: p2})
	if _, err := late.Allocate(); turnCode(err) != 486 {
		t.Fatalf("Allocate while draining: err = %v, want 486", err)
	}
	exchange(t, rc, peer, 1) // the live allocation still relays

	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the drain deadline")
	}
	if took := time.Since(stopAt); took < cfg.DrainTimeout {
		t.Errorf("Run returned after %s, before the drain deadline %s with a live allocation", took, cfg.DrainTimeout)
	}
	if n := srv.Allocations(); n != 0 {
		t.Errorf("Allocations() after Run = %d, want 0", n)
	}
}

// With no allocations, shutdown does not wait for the drain deadline.
func TestShutdownIdleIsImmediate(t *testing.T) {
	cfg := turn.LocalConfig()
	cfg.Auth.Secret = "s"
	cfg.DrainTimeout = time.Minute
	srv, err := turn.New(cfg, turn.Deps{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("idle relay took more than 5s to stop")
	}
}

// A TCP client that goes silent is disconnected after listen.tcp_idle_timeout and its
// allocation freed; an active one is not.
func TestTCPIdleTimeout(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
		c.Listen.TCPIdleTimeout = 1500 * time.Millisecond
	}})
	allocate(t, clientFor(t, relay, "tcp", "sleepy"))
	active := allocate(t, clientFor(t, relay, "tcp", "active"))
	peer := newPeer(t)
	if n := relay.Server.Allocations(); n != 2 {
		t.Fatalf("Allocations() = %d, want 2", n)
	}
	// Keep one client talking (ChannelData every 200 ms) while the other stays silent.
	deadline := time.Now().Add(6 * time.Second)
	for time.Now().Before(deadline) && relay.Server.Allocations() > 1 {
		exchange(t, active, peer, 1)
		time.Sleep(200 * time.Millisecond)
	}
	if n := relay.Server.Allocations(); n != 1 {
		t.Fatalf("Allocations() = %d after the silent client idled out, want 1", n)
	}
	exchange(t, active, peer, 1)
}
