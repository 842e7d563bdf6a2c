package cptest

import (
	"crypto/sha256"
	"encoding/base64"
	"testing"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
)

// SignWebhook returns the body and Authorization value the SFU would send for ev, signed
// like LiveKit's webhook notifier: a JWT from the key pair carrying the body's SHA-256.
func SignWebhook(t testing.TB, apiKey, apiSecret string, ev *livekit.WebhookEvent) ([]byte, string) {
	t.Helper()
	body, err := protojson.Marshal(ev)
	if err != nil {
		t.Fatalf("cptest: marshal webhook: %v", err)
	}
	sum := sha256.Sum256(body)
	tok, err := lkauth.NewAccessToken(apiKey, apiSecret).SetValidFor(5 * time.Minute).
		SetSha256(base64.StdEncoding.EncodeToString(sum[:])).ToJWT()
	if err != nil {
		t.Fatalf("cptest: sign webhook: %v", err)
	}
	return body, tok
}

// SendWebhook delivers ev to the server's LiveKit webhook endpoint, signed with its key pair.
func (e *Env) SendWebhook(t testing.TB, ev *livekit.WebhookEvent) *Response {
	t.Helper()
	body, tok := SignWebhook(t, e.Config.LiveKit.APIKey, e.Config.LiveKit.APISecret, ev)
	return e.DoRequest(t, Request{Method: "POST", Path: "/api/v1/webhooks/livekit", Body: body,
		Headers: map[string]string{"Authorization": tok, "Content-Type": "application/webhook+json"}})
}

// ParticipantEvent builds a participant_joined/participant_left event for user in class room.
func ParticipantEvent(id, event, classID, userID, sid string, at time.Time) *livekit.WebhookEvent {
	return &livekit.WebhookEvent{Id: id, Event: event, CreatedAt: at.Unix(),
		Room:        &livekit.Room{Name: classID},
		Participant: &livekit.ParticipantInfo{Sid: sid, Identity: userID, JoinedAt: at.Unix(), JoinedAtMs: at.UnixMilli()}}
}

// RoomEvent builds a room_started/room_finished event for a class room.
func RoomEvent(id, event, classID string, at time.Time) *livekit.WebhookEvent {
	return &livekit.WebhookEvent{Id: id, Event: event, CreatedAt: at.Unix(), Room: &livekit.Room{Name: classID}}
}
