package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Event is what travels on the Redis channel and out of the Hub to subscribers.
type Event struct {
	// Type is "notification" (a new record), "read" (records marked read: IDs, or All) or
	// "session_ended" (a sign-out: streams of SessionID close).
	Type      string          `json:"type"`
	UserID    string          `json:"user_id"`
	SessionID string          `json:"session_id,omitempty"`
	ID        int64           `json:"id,omitempty"`
	IDs       []int64         `json:"ids,omitempty"`
	All       bool            `json:"all,omitempty"`
	Payload   json.RawMessage `json:"payload,omitempty"` // the notification as the API shows it
}

// Event types.
const (
	TypeNotification = "notification"
	TypeRead         = "read"
	TypeSessionEnded = "session_ended"
)

// SubscriptionBuffer is how many events a subscriber may fall behind before it is dropped
// (its stream ends; the page reconnects and catches up from the database).
const SubscriptionBuffer = 64

// Hub fans events out to local subscribers. Publish sends an event to Redis; Run receives
// every event of the channel (from every replica, this one included) and hands it to the
// local subscribers of its user. Safe for concurrent use; the zero value is not usable.
type Hub struct {
	rdb     *redis.Client
	channel string
	log     *slog.Logger

	mu    sync.Mutex
	subs  map[string]map[*Subscription]struct{} // by user id
	ready chan struct{}
	once  sync.Once

	out      chan Event // Enqueue → the publishing loop of Run
	shutdown bool       // under mu: Shutdown was called
}

// OutboxSize is how many events Enqueue buffers for publishing before it drops (and logs):
// a Redis outage must not stall the transactions that produce notifications.
const OutboxSize = 4096

// NewHub returns a Hub publishing and listening on channel (e.g. the deployment's Redis key
// prefix + "notifications"). Call Run to start receiving.
func NewHub(rdb *redis.Client, channel string, log *slog.Logger) *Hub {
	return &Hub{rdb: rdb, channel: channel, log: log, subs: map[string]map[*Subscription]struct{}{}, ready: make(chan struct{}),
		out: make(chan Event, OutboxSize)}
}

// Enqueue hands ev to Run's publishing loop without blocking (the store's notification sink
// calls it after each commit). A full buffer drops the event: the record is stored, and
// pages catch up from the database when they reconnect.
func (h *Hub) Enqueue(ev Event) {
	select {
	case h.out <- ev:
	default:
		h.log.Warn("notify: publish buffer full; event dropped", "type", ev.Type)
	}
}

func (h *Hub) publishLoop(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-h.out:
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			if err := h.Publish(pctx, ev); err != nil {
				h.log.Warn("notify: publish failed; pages catch up when they reconnect", "err", err, "type", ev.Type)
			}
			cancel()
		}
	}
}

// Ready is closed once Run has subscribed to Redis: events published after that reach this
// replica's subscribers.
func (h *Hub) Ready() <-chan struct{} { return h.ready }

// Run publishes enqueued events and receives events until ctx ends, resubscribing (bounded
// backoff) if Redis drops.
func (h *Hub) Run(ctx context.Context) {
	done := make(chan struct{})
	defer func() { <-done }()
	go func() {
		defer close(done)
		h.publishLoop(ctx)
	}()
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := h.receive(ctx)
		if ctx.Err() != nil {
			return
		}
		h.log.Warn("notify: redis subscription lost; retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (h *Hub) receive(ctx context.Context) error {
	ps := h.rdb.Subscribe(ctx, h.channel)
	defer ps.Close()
	if _, err := ps.Receive(ctx); err != nil { // the subscription confirmation
		return fmt.Errorf("subscribe %s: %w", h.channel, err)
	}
	h.once.Do(func() { close(h.ready) })
	ch := ps.Channel(redis.WithChannelHealthCheckInterval(30 * time.Second))
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case m, ok := <-ch:
			if !ok {
				return fmt.Errorf("channel closed")
			}
			var ev Event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil {
				h.log.Warn("notify: bad event on channel", "err", err)
				continue
			}
			h.deliver(ev)
		}
	}
}

// Publish sends ev to every replica. It does not block on subscribers.
func (h *Hub) Publish(ctx context.Context, ev Event) error {
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("notify: encode: %w", err)
	}
	if err := h.rdb.Publish(ctx, h.channel, raw).Err(); err != nil {
		return fmt.Errorf("notify: publish: %w", err)
	}
	return nil
}

// SessionEnded tells the streams of a session, on every replica, that it was signed out.
func (h *Hub) SessionEnded(userID, sessionID string) {
	h.Enqueue(Event{Type: TypeSessionEnded, UserID: userID, SessionID: sessionID})
}

// Subscription receives the events of one user. C is closed when the subscription is
// closed or dropped for falling behind (Dropped then reports true).
type Subscription struct {
	C       <-chan Event
	c       chan Event
	hub     *Hub
	userID  string
	closed  bool // under hub.mu
	dropped bool // under hub.mu
}

// Subscribe registers a subscriber for userID's events. Close it when done.
func (h *Hub) Subscribe(userID string) *Subscription {
	c := make(chan Event, SubscriptionBuffer)
	s := &Subscription{C: c, c: c, hub: h, userID: userID}
	h.mu.Lock()
	if h.shutdown {
		s.closed = true
		close(c)
		h.mu.Unlock()
		return s
	}
	if h.subs[userID] == nil {
		h.subs[userID] = map[*Subscription]struct{}{}
	}
	h.subs[userID][s] = struct{}{}
	h.mu.Unlock()
	return s
}

// Shutdown closes every subscription and refuses new ones, so long-lived streams end when
// the server shuts down (http.Server.Shutdown waits for in-flight requests).
func (h *Hub) Shutdown() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.shutdown = true
	for _, m := range h.subs {
		for s := range m {
			s.closeLocked()
		}
	}
}

// Close unregisters s; safe to call more than once.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	s.closeLocked()
}

// Dropped reports whether s was closed for falling behind.
func (s *Subscription) Dropped() bool {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.dropped
}

func (s *Subscription) closeLocked() {
	if s.closed {
		return
	}
	s.closed = true
	close(s.c)
	if m := s.hub.subs[s.userID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(s.hub.subs, s.userID)
		}
	}
}

// Subscribers is the number of local subscriptions (a gauge for tests and metrics).
func (h *Hub) Subscribers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, m := range h.subs {
		n += len(m)
	}
	return n
}

// deliver hands ev to the user's subscribers without blocking: a full buffer drops that
// subscriber rather than stall every other user's events.
func (h *Hub) deliver(ev Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs[ev.UserID] {
		select {
		case s.c <- ev:
		default:
			s.dropped = true
			s.closeLocked()
		}
	}
}
