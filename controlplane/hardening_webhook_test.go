package controlplane_test

import (
	"context"
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// Issue 17, finding 11: a signed webhook for an identity shaped like a user id but naming no
// user hit a foreign-key violation and answered 500 (the SFU retried it forever); one with
// an absurd createdAt answered 500 too; events dated days ahead settled a class before it
// started.
func TestLiveKitWebhookRobustness(t *testing.T) {
	env := cptest.Serve(t)
	teacher := env.NewUser(t, "teacher")
	id := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 48 * time.Hour})["id"].(string)
	now := env.Clock.Now()

	ghost := "11111111-2222-3333-4444-555555555555"
	env.SendWebhook(t, cptest.ParticipantEvent("EV_ghost_"+id[:8], "participant_joined", id, ghost, "PA_ghost", now)).Want(t, 200)
	env.SendWebhook(t, cptest.ParticipantEvent("EV_ghost2_"+id[:8], "participant_left", id, ghost, "PA_ghost", now)).Want(t, 200)

	for name, createdAt := range map[string]int64{
		"max int64":       math.MaxInt64,
		"year 9999":       time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC).Unix(),
		"negative":        -1,
		"three days late": now.Add(72 * time.Hour).Unix(),
	} {
		ev := cptest.RoomEvent("EV_abs_"+id[:8]+cptest.RandomHex(3), "room_started", id, now)
		ev.CreatedAt = createdAt
		res := env.SendWebhook(t, ev)
		if res.Status >= 500 || res.Status == 200 {
			t.Errorf("%s createdAt: status %d, want a 4xx refusal: %s", name, res.Status, res.Body)
		}
	}
	// The class is still untouched: no start, no teacher, no outcome.
	starts := now.Add(48 * time.Hour)
	for i, ev := range []*livekit.WebhookEvent{
		cptest.RoomEvent("EV_fut1_"+id[:8], "room_started", id, starts),
		cptest.ParticipantEvent("EV_fut2_"+id[:8], "participant_joined", id, teacher.ID, "PA_t", starts.Add(time.Minute)),
		cptest.RoomEvent("EV_fut3_"+id[:8], "room_finished", id, starts.Add(61*time.Minute)),
	} {
		if res := env.SendWebhook(t, ev); res.Status == http.StatusOK || res.Status >= 500 {
			t.Errorf("future event %d: status %d, want a 4xx refusal", i, res.Status)
		}
	}
	c, err := env.Server.Store.ClassByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if c.RoomStartedAt != nil || c.TeacherJoinedAt != nil || c.RoomFinishedAt != nil {
		t.Errorf("refused events marked the class: started %v teacher %v finished %v", c.RoomStartedAt, c.TeacherJoinedAt, c.RoomFinishedAt)
	}
	if _, err := env.Server.Store.ClassOutcomeByID(context.Background(), id); err == nil {
		t.Error("a class was settled by events dated in the future")
	}
}

// Finding 11, flooding: webhook endpoints are exempt from the per-IP limit, so 3,000 bad
// signatures were each verified and logged. Refused signatures spend a per-IP budget; once
// spent the endpoint answers 429. Good signatures are unaffected.
func TestWebhookBadSignaturesLimited(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) { c.RateLimit.BadSignaturePerMinute = 5 }})
	bad := func(path string, h map[string]string) int {
		return env.DoRequest(t, cptest.Request{Method: "POST", Path: path, Body: `{"id":"x"}`, Headers: h}).Status
	}
	codes := map[int]int{}
	for range 12 {
		codes[bad("/api/v1/webhooks/livekit", map[string]string{"Authorization": "garbage"})]++
		codes[bad("/api/v1/webhooks/stripe", map[string]string{"Stripe-Signature": "t=1,v1=00"})]++
	}
	if codes[429] < 12 || codes[401]+codes[400] > 6 {
		t.Errorf("bad signatures answered %v, want at most 5 refusals then 429", codes)
	}
	// A correctly signed webhook from elsewhere... is the same IP here; signed ones still pass
	// once the bad budget refills, and never spend it.
	other := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) { c.RateLimit.BadSignaturePerMinute = 5 }})
	for i := range 20 {
		other.SendWebhook(t, cptest.RoomEvent("EV_ok_"+cptest.RandomHex(4)+string(rune('a'+i)), "room_started", "lobby", time.Now())).Want(t, 200)
	}
}
