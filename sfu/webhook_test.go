package sfu_test

import (
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// hookSink receives webhooks, verifies them with protocol/webhook, and fails the first
// delivery of each event with 503 to exercise retries.
type hookSink struct {
	mu       sync.Mutex
	events   []*livekit.WebhookEvent
	attempts map[string]int
	bad      int
}

func (h *hookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ev, err := webhook.ReceiveWebhookEvent(r, auth.NewSimpleKeyProvider(sfu.DevAPIKey, sfu.DevAPISecret))
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.bad++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	h.attempts[ev.Id]++
	if h.attempts[ev.Id] == 1 {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	h.events = append(h.events, ev)
}

func (h *hookSink) names() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.events {
		out = append(out, e.Event)
	}
	return out
}

func TestWebhooks(t *testing.T) {
	sink := &hookSink{attempts: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: sink}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })

	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Webhook.URLs = []string{"http://" + ln.Addr().String() + "/hook"}
		c.Room.EmptyTimeout = 300 * time.Millisecond
	}))
	alice, err := tryJoin(srv, "hooked", "alice", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	pub := publishSynth(t, alice, opusCap, "mic")
	eventually(t, 5*time.Second, "track_published", func() bool { return contains(sink.names(), "track_published") })
	pub.close()
	alice.Disconnect()
	want := []string{"room_started", "participant_joined", "track_published", "track_unpublished", "participant_left", "room_finished"}
	missing := func() []string {
		got := sink.names()
		var out []string
		for _, w := range want {
			if !contains(got, w) {
				out = append(out, w)
			}
		}
		return out
	}
	for deadline := time.Now().Add(15 * time.Second); len(missing()) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("webhooks %v never arrived; got %v", missing(), sink.names())
		}
	}
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if sink.bad != 0 {
		t.Errorf("%d webhooks failed verification", sink.bad)
	}
	for _, ev := range sink.events {
		if ev.Room == nil || ev.Room.Name != "hooked" {
			t.Errorf("%s: room = %v, want hooked", ev.Event, ev.Room)
		}
		if (ev.Event == "participant_joined" || ev.Event == "participant_left") && ev.Participant.GetIdentity() != "alice" {
			t.Errorf("%s: participant = %v", ev.Event, ev.Participant)
		}
		if sink.attempts[ev.Id] != 2 {
			t.Errorf("%s delivered after %d attempts, want 2 (one retry)", ev.Event, sink.attempts[ev.Id])
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestTrackEndingWhileClosingIsUnpublished: when a publisher's media stops after its Leave
// was read but before cleanup ran, the track is still retired: track_unpublished is sent
// once, before participant_left. (It was lost when the reader's end removed the track from
// the participant and left retiring it to a cleanup that no longer saw it.)
func TestTrackEndingWhileClosingIsUnpublished(t *testing.T) {
	sink := &hookSink{attempts: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: sink}
	go hs.Serve(ln)
	t.Cleanup(func() { hs.Close() })
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Webhook.URLs = []string{"http://" + ln.Addr().String() + "/hook"}
	}))
	alice, err := tryJoin(srv, "closing", "alice", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	publishSynth(t, alice, opusCap, "mic")
	eventually(t, 5*time.Second, "track_published", func() bool { return contains(sink.names(), "track_published") })
	if err := sfu.EndTracksWhileClosingForTest(srv.Server, "closing", "alice"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "participant_left", func() bool { return contains(sink.names(), "participant_left") })
	var unpublished int
	for _, name := range sink.names() {
		if name == "participant_left" {
			break
		}
		if name == "track_unpublished" {
			unpublished++
		}
	}
	if unpublished != 1 {
		t.Fatalf("track_unpublished sent %d times before participant_left, want 1; events %v", unpublished, sink.names())
	}
}
