package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisFor connects to the test Redis (scripts/services.sh); a missing one fails the test.
func redisFor(t *testing.T) *redis.Client {
	t.Helper()
	addr := os.Getenv("ATRIUM_TEST_REDIS_ADDR")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("redis at %s: %v (start it with ./scripts/services.sh up)", addr, err)
	}
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

func channelName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "atrium:test:" + hex.EncodeToString(b) + ":notifications"
}

// startHub runs a hub until the test ends and waits until it listens.
func startHub(t *testing.T, rdb *redis.Client, channel string) *Hub {
	t.Helper()
	h := NewHub(rdb, channel, slog.New(slog.NewTextHandler(io.Discard, nil)))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-h.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("hub did not subscribe within 10 s")
	}
	return h
}

func recv(t *testing.T, s *Subscription) Event {
	t.Helper()
	select {
	case ev, ok := <-s.C:
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10 s")
	}
	return Event{}
}

// An event enqueued on one replica reaches the subscribers of its user on every replica, and
// no one else's.
func TestHubFansOutAcrossReplicas(t *testing.T) {
	rdb := redisFor(t)
	ch := channelName()
	a, b := startHub(t, rdb, ch), startHub(t, rdb, ch)
	onA, onB, other := a.Subscribe("u1"), b.Subscribe("u1"), b.Subscribe("u2")
	defer onA.Close()
	defer onB.Close()
	defer other.Close()

	a.Enqueue(Event{Type: TypeNotification, UserID: "u1", ID: 7})
	for _, s := range []*Subscription{onA, onB} {
		if ev := recv(t, s); ev.ID != 7 || ev.UserID != "u1" {
			t.Fatalf("event = %+v, want id 7 for u1", ev)
		}
	}
	b.SessionEnded("u2", "s1")
	if ev := recv(t, other); ev.Type != TypeSessionEnded || ev.SessionID != "s1" {
		t.Fatalf("event = %+v, want session_ended s1", ev)
	}
	select {
	case ev := <-onA.C:
		t.Fatalf("u1 got u2's event %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

// A subscriber that stops reading is dropped (its channel closes), so it cannot stall others;
// Shutdown closes every subscription and refuses new ones.
func TestHubDropsSlowSubscriberAndShutsDown(t *testing.T) {
	h := NewHub(nil, "unused", slog.New(slog.NewTextHandler(io.Discard, nil)))
	slow, fast := h.Subscribe("u"), h.Subscribe("u")
	for i := range SubscriptionBuffer + 1 {
		h.deliver(Event{Type: TypeNotification, UserID: "u", ID: int64(i + 1)})
		if ev := <-fast.C; ev.ID != int64(i+1) { // fast keeps up
			t.Fatalf("fast got %+v, want id %d", ev, i+1)
		}
	}
	n := 0
	for range slow.C {
		n++
	}
	if n != SubscriptionBuffer || !slow.Dropped() || fast.Dropped() {
		t.Fatalf("slow got %d events (want %d) dropped=%v; fast dropped=%v", n, SubscriptionBuffer, slow.Dropped(), fast.Dropped())
	}
	h.Shutdown()
	if _, ok := <-fast.C; ok {
		t.Fatal("fast's subscription is open after Shutdown")
	}
	late := h.Subscribe("u")
	if _, ok := <-late.C; ok || h.Subscribers() != 0 {
		t.Fatalf("a subscription after Shutdown is open (%d subscribers)", h.Subscribers())
	}
	late.Close()
	slow.Close()
}
