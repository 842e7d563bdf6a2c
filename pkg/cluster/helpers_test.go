package cluster

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"
)

// tlogWriter sends log lines to t.Log until the test ends; memberlist goroutines that
// log after that are silenced instead of panicking the test binary.
type tlogWriter struct {
	mu   sync.Mutex
	tb   testing.TB
	done bool
}

func (w *tlogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.tb.Log(string(bytes.TrimRight(p, "\n")))
	}
	return len(p), nil
}

func testLogger(tb testing.TB) *slog.Logger {
	w := &tlogWriter{tb: tb}
	tb.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func sfuMeta(id string) Meta {
	return Meta{
		NodeID:     id,
		Role:       RoleSFU,
		SignalURL:  "http://127.0.0.1:7880",
		MediaAddrs: []string{"127.0.0.1:7882"},
		Load:       Load{MaxParticipants: 100},
		Version:    "test",
	}
}

type nodeOpts struct {
	key   []byte
	seeds []string
	port  int
	meta  *Meta
}

// startNode joins a member on 127.0.0.1 with the "local" preset; it is shut down (without
// leave) when the test ends.
func startNode(tb testing.TB, id string, o nodeOpts) *Cluster {
	tb.Helper()
	meta := sfuMeta(id)
	if o.meta != nil {
		meta = *o.meta
	}
	cfg := Config{
		NodeID:    id,
		BindAddr:  "127.0.0.1",
		BindPort:  o.port,
		Seeds:     o.seeds,
		SecretKey: o.key,
		Preset:    PresetLocal,
		Logger:    testLogger(tb).With("test_node", id),
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Join(ctx, cfg, meta)
	if err != nil {
		tb.Fatalf("Join(%s): %v", id, err)
	}
	tb.Cleanup(func() { _ = c.Shutdown() })
	return c
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ids(ms []Meta) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.NodeID
	}
	return out
}

// waitEvent returns the first event of kind about node from ch.
func waitEvent(tb testing.TB, ch <-chan Event, kind EventKind, node string, timeout time.Duration) Event {
	tb.Helper()
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				tb.Fatalf("event channel closed while waiting for %v of %s", kind, node)
			}
			if ev.Kind == kind && ev.Member.NodeID == node {
				return ev
			}
		case <-t.C:
			tb.Fatalf("no %v event for %s within %v", kind, node, timeout)
		}
	}
}

// freePort returns a port that was free on 127.0.0.1 for both TCP and UDP a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatalf("listen: %v", err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	tb.Fatal("no free port")
	return 0
}
