// Package webhook delivers LiveKit-format webhooks: a protojson WebhookEvent body, and an
// Authorization header carrying a JWT (signed with an API key/secret) whose sha256 claim is
// the base64 SHA-256 of the body, so receivers verify it with protocol/webhook.Receive.
//
// Events are queued and sent in order by one worker per notifier; each URL gets Retries more
// attempts with exponential backoff. The queue is bounded: when it is full new events are
// dropped and counted, because a slow receiver must never stall a room. Safe for concurrent use.
package webhook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
)

// Event names, as LiveKit sends them.
const (
	RoomStarted       = "room_started"
	RoomFinished      = "room_finished"
	ParticipantJoined = "participant_joined"
	ParticipantLeft   = "participant_left"
	TrackPublished    = "track_published"
	TrackUnpublished  = "track_unpublished"
)

// Params configure a Notifier.
type Params struct {
	URLs              []string
	APIKey, APISecret string
	Retries           int           // extra attempts per URL after the first
	Timeout           time.Duration // per attempt
	Backoff           time.Duration // first retry delay; doubles each time
	QueueLen          int
	Logger            *slog.Logger
	// OnDrop, if set, is called for every event given up on (queue full or retries spent).
	OnDrop func(event string)
	// Client defaults to a client with Timeout.
	Client *http.Client
}

// Notifier queues and sends events.
type Notifier struct {
	p         Params
	queue     chan *livekit.WebhookEvent
	stop      chan struct{} // closed by Close: no new events, drain the queue
	abort     chan struct{} // closed when Close's context ends: stop waiting between retries
	done      chan struct{}
	once      sync.Once
	abortOnce sync.Once
}

// New starts a notifier's worker; Close stops it.
func New(p Params) *Notifier {
	if p.Client == nil {
		p.Client = &http.Client{Timeout: p.Timeout}
	}
	if p.QueueLen <= 0 {
		p.QueueLen = 100
	}
	if p.Backoff <= 0 {
		p.Backoff = 500 * time.Millisecond
	}
	n := &Notifier{p: p, queue: make(chan *livekit.WebhookEvent, p.QueueLen), stop: make(chan struct{}),
		abort: make(chan struct{}), done: make(chan struct{})}
	go n.run()
	return n
}

// Notify queues ev (its Event name must be set; Id and CreatedAt are filled in if empty).
// It never blocks.
func (n *Notifier) Notify(ev *livekit.WebhookEvent) {
	if ev.CreatedAt == 0 {
		ev.CreatedAt = time.Now().Unix()
	}
	if ev.Id == "" {
		ev.Id = fmt.Sprintf("EV_%d", time.Now().UnixNano())
	}
	select {
	case <-n.stop:
		return
	default:
	}
	select {
	case n.queue <- ev:
	default:
		n.p.Logger.Warn("webhook queue full, dropping event", "event", ev.Event)
		if n.p.OnDrop != nil {
			n.p.OnDrop(ev.Event)
		}
	}
}

// Close stops accepting events and keeps delivering (with retries) what is queued until
// ctx ends; then remaining events are dropped and the worker stops.
func (n *Notifier) Close(ctx context.Context) {
	n.once.Do(func() { close(n.stop) })
	select {
	case <-n.done:
	case <-ctx.Done():
		n.abortOnce.Do(func() { close(n.abort) })
		<-n.done
	}
}

func (n *Notifier) run() {
	defer close(n.done)
	for {
		select {
		case ev := <-n.queue:
			n.deliver(ev)
		case <-n.stop:
			for {
				select {
				case ev := <-n.queue:
					select {
					case <-n.abort:
						if n.p.OnDrop != nil {
							n.p.OnDrop(ev.Event)
						}
					default:
						n.deliver(ev)
					}
				default:
					return
				}
			}
		}
	}
}

func (n *Notifier) deliver(ev *livekit.WebhookEvent) {
	body, err := protojson.Marshal(ev)
	if err != nil {
		n.p.Logger.Error("webhook encode", "event", ev.Event, "err", err)
		return
	}
	for _, url := range n.p.URLs {
		if err := n.sendWithRetries(url, body); err != nil {
			n.p.Logger.Warn("webhook failed", "event", ev.Event, "url", url, "err", err)
			if n.p.OnDrop != nil {
				n.p.OnDrop(ev.Event)
			}
		}
	}
}

func (n *Notifier) sendWithRetries(url string, body []byte) error {
	delay := n.p.Backoff
	var err error
	for attempt := 0; attempt <= n.p.Retries; attempt++ {
		if attempt > 0 {
			t := time.NewTimer(delay)
			select {
			case <-t.C:
			case <-n.abort:
				t.Stop()
				return fmt.Errorf("shut down after %d attempts: %w", attempt, err)
			}
			delay *= 2
		}
		if err = n.send(url, body); err == nil {
			return nil
		}
	}
	return fmt.Errorf("after %d attempts: %w", n.p.Retries+1, err)
}

func (n *Notifier) send(url string, body []byte) error {
	sum := sha256.Sum256(body)
	tok, err := auth.NewAccessToken(n.p.APIKey, n.p.APISecret).SetValidFor(5 * time.Minute).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/webhook+json")
	req.Header.Set("Authorization", tok)
	resp, err := n.p.Client.Do(req)
	if err != nil {
		return fmt.Errorf("post: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("post: status %d", resp.StatusCode)
	}
	return nil
}
