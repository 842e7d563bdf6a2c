package webhook

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lkwebhook "github.com/livekit/protocol/webhook"
)

func TestRetriesAndSignature(t *testing.T) {
	var attempts atomic.Int32
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if attempts.Add(1) <= 2 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		ev, err := lkwebhook.ReceiveWebhookEvent(r, auth.NewSimpleKeyProvider("key", "secret"))
		if err != nil {
			t.Errorf("verify: %v", err)
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		mu.Lock()
		got = append(got, ev.Event)
		mu.Unlock()
	}))
	defer srv.Close()
	var drops atomic.Int32
	n := New(Params{URLs: []string{srv.URL}, APIKey: "key", APISecret: "secret", Retries: 3,
		Timeout: time.Second, Backoff: 10 * time.Millisecond, QueueLen: 4,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnDrop: func(string) { drops.Add(1) }})
	n.Notify(&livekit.WebhookEvent{Event: RoomStarted, Room: &livekit.Room{Name: "r"}})
	n.Notify(&livekit.WebhookEvent{Event: RoomFinished, Room: &livekit.Room{Name: "r"}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != RoomStarted || got[1] != RoomFinished {
		t.Errorf("delivered %v, want [room_started room_finished] in order", got)
	}
	if a := attempts.Load(); a != 4 {
		t.Errorf("%d attempts, want 4 (two failures, then two deliveries)", a)
	}
	if drops.Load() != 0 {
		t.Errorf("%d drops, want 0", drops.Load())
	}
}

func TestGivesUpAndCounts(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	var drops atomic.Int32
	n := New(Params{URLs: []string{srv.URL}, APIKey: "key", APISecret: "secret", Retries: 1,
		Timeout: time.Second, Backoff: time.Millisecond, QueueLen: 1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), OnDrop: func(string) { drops.Add(1) }})
	for i := 0; i < 20; i++ {
		n.Notify(&livekit.WebhookEvent{Event: ParticipantJoined})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.Close(ctx)
	if d := drops.Load(); d != 20 {
		t.Errorf("%d drops, want 20 (queue overflow plus retries spent)", d)
	}
}
