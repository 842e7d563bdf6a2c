package egress

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
)

// Egress webhook events, named as LiveKit names them.
const (
	EventStarted = "egress_started"
	EventUpdated = "egress_updated"
	EventEnded   = "egress_ended"
)

// Notifier posts LiveKit-format egress webhooks: a JSON WebhookEvent signed the way
// LiveKit signs them (an API-key JWT in Authorization whose sha256 claim is the base64
// SHA-256 of the body), so protocol/webhook's receiver verifies them. Safe for concurrent
// use; the zero value with no URLs sends nothing.
type Notifier struct {
	URLs              []string
	APIKey, APISecret string
	Client            *http.Client
	Logger            *slog.Logger
	// Retries per URL after the first attempt; Backoff doubles from this.
	Retries int
	Backoff time.Duration
}

// Notify sends event with info to every URL, retrying each a few times; it returns the last
// error after all URLs were tried. It blocks for at most a few seconds per URL.
func (n *Notifier) Notify(ctx context.Context, event string, info *livekit.EgressInfo) error {
	if n == nil || len(n.URLs) == 0 {
		return nil
	}
	ev := &livekit.WebhookEvent{Event: event, EgressInfo: info, Id: "EV_" + NewID()[3:],
		CreatedAt: time.Now().Unix()}
	body, err := protojson.Marshal(ev)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", event, err)
	}
	sum := sha256.Sum256(body)
	tok, err := auth.NewAccessToken(n.APIKey, n.APISecret).SetValidFor(5 * time.Minute).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		return fmt.Errorf("webhook %s: sign: %w", event, err)
	}
	cl := n.Client
	if cl == nil {
		cl = &http.Client{Timeout: 5 * time.Second}
	}
	backoff := n.Backoff
	if backoff <= 0 {
		backoff = 200 * time.Millisecond
	}
	var last error
	for _, u := range n.URLs {
		for attempt := 0; attempt <= n.Retries; attempt++ {
			if attempt > 0 {
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(backoff << (attempt - 1)):
				}
			}
			if last = post(ctx, cl, u, body, tok); last == nil {
				break
			}
			if n.Logger != nil {
				n.Logger.Warn("egress webhook failed", "event", event, "url", u, "attempt", attempt+1, "err", last)
			}
		}
	}
	return last
}

func post(ctx context.Context, cl *http.Client, url string, body []byte, tok string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/webhook+json")
	req.Header.Set("Authorization", tok)
	resp, err := cl.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
