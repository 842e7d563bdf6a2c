package media

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/controlplane/problem"
)

// FuzzReceiveWebhook: the LiveKit webhook endpoint is reachable by anyone. Verification and
// parsing never panic, a refusal is a problem (4xx, never 5xx), and the event times it
// accepts pass eventTime's bounds or are refused with a 4xx.
func FuzzReceiveWebhook(f *testing.F) {
	const key, secret = "fuzzkey", "fuzz-secret-0123456789abcdef-0123456789"
	s := New(Config{APIKey: key, APISecret: secret}, Deps{Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	sign := func(body string) string {
		sum := sha256.Sum256([]byte(body))
		tok, _ := lkauth.NewAccessToken(key, secret).SetValidFor(time.Minute).SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
		return tok
	}
	for _, b := range []string{`{"id":"EV_1","event":"room_started","room":{"name":"x"},"createdAt":"1800000000"}`,
		`{"id":"EV_2","event":"participant_joined","createdAt":"9223372036854775807","participant":{"joinedAtMs":"-1"}}`,
		`{`, `{"id":""}`, `{"event":"room_finished","unknown":[[[[1]]]]}`} {
		f.Add([]byte(b), sign(b))
		f.Add([]byte(b), "Bearer garbage")
	}
	now := time.Unix(1_800_000_000, 0)
	f.Fuzz(func(t *testing.T, body []byte, auth string) {
		r := httptest.NewRequest("POST", "/api/v1/webhooks/livekit", strings.NewReader(string(body)))
		r.Header.Set("Authorization", auth)
		r.Header.Set("Content-Type", "application/webhook+json")
		ev, err := s.ReceiveWebhook(r)
		if err != nil {
			var p *problem.Error
			if !errors.As(err, &p) || p.Status >= 500 {
				t.Fatalf("refusal is not a 4xx problem: %v", err)
			}
			return
		}
		if at, ok := eventTime(ev.CreatedAt, now); ok && (at.After(now.Add(webhookSkew)) || at.Before(now.Add(-webhookMaxAge))) {
			t.Fatalf("eventTime(%d) accepted %v", ev.CreatedAt, at)
		}
		if p := ev.GetParticipant(); p != nil {
			at, _ := eventTime(ev.CreatedAt, now)
			if j := participantJoinedAt(p, at); j.After(at) {
				t.Fatalf("joined at %v after the event %v", j, at)
			}
		}
	})
}
