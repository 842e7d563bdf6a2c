package controlplane_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/store"
)

// bookings is a BookingChecker test double standing in for the bookings component.
type bookings struct {
	mu     sync.Mutex
	booked map[string]bool // classID/userID
}

func (b *bookings) book(classID, userID string) {
	b.mu.Lock()
	b.booked[classID+"/"+userID] = true
	b.mu.Unlock()
}

func (b *bookings) HasConfirmedBooking(_ context.Context, classID, userID string) (bool, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.booked[classID+"/"+userID], nil
}

type joinResp struct {
	URL        string `json:"url"`
	Token      string `json:"token"`
	Room       string `json:"room"`
	Identity   string `json:"identity"`
	Role       string `json:"role"`
	CanPublish bool   `json:"can_publish"`
	ICEServers []struct {
		URLs       []string `json:"urls"`
		Username   string   `json:"username"`
		Credential string   `json:"credential"`
	} `json:"ice_servers"`
}

func verifyLiveKitToken(t *testing.T, env *cptest.Env, token string) *lkauth.ClaimGrants {
	t.Helper()
	v, err := lkauth.ParseAPIToken(token)
	if err != nil {
		t.Fatalf("parse join token: %v", err)
	}
	if v.APIKey() != env.Config.LiveKit.APIKey {
		t.Errorf("token key %q", v.APIKey())
	}
	_, grants, err := v.Verify(env.Config.LiveKit.APISecret)
	if err != nil {
		t.Fatalf("verify join token: %v", err)
	}
	return grants
}

func TestJoin(t *testing.T) {
	b := &bookings{booked: map[string]bool{}}
	env := cptest.Serve(t, cptest.Options{
		Deps: func(d *controlplane.Deps) { d.Bookings = b },
		Config: func(c *controlplane.Config) {
			c.TURN.URLs, c.TURN.Secret = []string{"turn:127.0.0.1:3478?transport=udp"}, "turn-secret"
		},
	})
	teacher := env.NewUser(t, "teacher")
	student := env.NewUser(t, "student")
	stranger := env.NewUser(t, "student")
	c := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 20 * time.Minute, Duration: 30})
	id := c["id"].(string)
	b.book(id, student.ID)

	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", "", nil).WantError(t, 401, "unauthenticated")
	res := env.Do(t, "POST", "/api/v1/classes/"+id+"/join", teacher.Token, nil).WantError(t, 409, "join_too_early")
	if res.Header.Get("Retry-After") == "" || res.Map(t)["error"].(map[string]any)["details"].(map[string]any)["opens_at"] == nil {
		t.Errorf("too early answer lacks opens_at/Retry-After: %s", res.Body)
	}
	env.Clock.Advance(6 * time.Minute) // 14 minutes before the start: open
	env.Login(t, teacher)
	env.Login(t, student)
	env.Login(t, stranger)

	var tj joinResp
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", teacher.Token, nil).Want(t, 200).JSON(t, &tj)
	g := verifyLiveKitToken(t, env, tj.Token)
	if tj.URL != env.Config.LiveKit.URL || tj.Room != id || g.Identity != teacher.ID || g.Name != teacher.Name ||
		g.Video == nil || g.Video.Room != id || !g.Video.RoomJoin || !g.Video.RoomAdmin || !g.Video.GetCanPublish() || tj.Role != "teacher" {
		t.Errorf("teacher join = %+v grants %+v", tj, g.Video)
	}
	if len(tj.ICEServers) != 1 || tj.ICEServers[0].Username == "" || tj.ICEServers[0].Credential == "" {
		t.Errorf("ice servers = %+v", tj.ICEServers)
	}

	var sj joinResp
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", student.Token, nil).Want(t, 200).JSON(t, &sj)
	g = verifyLiveKitToken(t, env, sj.Token)
	if g.Identity != student.ID || g.Video.RoomAdmin || !g.Video.GetCanPublish() || !g.Video.GetCanSubscribe() || sj.Role != "student" {
		t.Errorf("student grants = %+v", g.Video)
	}
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", stranger.Token, nil).WantError(t, 403, "not_booked")

	// Students publish only when the class allows it.
	env.Do(t, "PATCH", "/api/v1/classes/"+id, teacher.Token, map[string]any{"students_can_publish": false}).Want(t, 200)
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", student.Token, nil).Want(t, 200).JSON(t, &sj)
	if g = verifyLiveKitToken(t, env, sj.Token); g.Video.GetCanPublish() || sj.CanPublish {
		t.Errorf("student may publish in a listen-only class")
	}

	// Forged join token: a token signed with another secret does not verify.
	forged, _ := lkauth.NewAccessToken(env.Config.LiveKit.APIKey, "another-secret-another-secret-0000").
		SetIdentity(stranger.ID).SetVideoGrant(&lkauth.VideoGrant{RoomJoin: true, Room: id}).ToJWT()
	if v, err := lkauth.ParseAPIToken(forged); err == nil {
		if _, _, err := v.Verify(env.Config.LiveKit.APISecret); err == nil {
			t.Error("forged LiveKit token verified")
		}
	}

	env.Clock.Advance(14*time.Minute + 30*time.Minute) // the scheduled end: people may still come back
	env.Login(t, teacher)
	env.Login(t, student)
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", student.Token, nil).Want(t, 200)
	env.Clock.Advance(env.Config.LiveKit.RejoinGrace) // the end plus the rejoin grace: over
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", teacher.Token, nil).WantError(t, 409, "class_ended")
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", student.Token, nil).WantError(t, 409, "class_ended")

	c2 := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 10 * time.Minute})
	env.Do(t, "POST", "/api/v1/classes/"+c2["id"].(string)+"/cancel", teacher.Token, map[string]string{}).Want(t, 200)
	env.Do(t, "POST", "/api/v1/classes/"+c2["id"].(string)+"/join", teacher.Token, nil).WantError(t, 409, "class_cancelled")
	env.Do(t, "POST", "/api/v1/classes/00000000-0000-0000-0000-000000000000/join", teacher.Token, nil).WantError(t, 404, "not_found")
}

// Without a bookings component, only the teacher gets in.
func TestJoinWithoutBookingsRefusesStudents(t *testing.T) {
	env := cptest.Serve(t)
	teacher := env.NewUser(t, "teacher")
	student := env.NewUser(t, "student")
	id := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute})["id"].(string)
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", teacher.Token, nil).Want(t, 200)
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", student.Token, nil).WantError(t, 403, "not_booked")
}

func sha256b64(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) LiveKitEvent(_ context.Context, _ *store.Store, event string, c store.Class) error {
	l.mu.Lock()
	l.events = append(l.events, event+":"+c.ID)
	l.mu.Unlock()
	return nil
}

func TestLiveKitWebhooksAttendance(t *testing.T) {
	hooks := &eventLog{}
	env := cptest.Serve(t, cptest.Options{Deps: func(d *controlplane.Deps) { d.EventHooks = hooks }})
	teacher := env.NewUser(t, "teacher")
	student := env.NewUser(t, "student")
	id := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute})["id"].(string)
	t0 := env.Clock.Now().Add(5 * time.Minute).Truncate(time.Second)
	evID := func(s string) string { return "EV_" + id[:8] + "_" + s }

	events := []*livekit.WebhookEvent{
		cptest.RoomEvent(evID("1"), "room_started", id, t0),
		cptest.ParticipantEvent(evID("2"), "participant_joined", id, teacher.ID, "PA_teacher", t0.Add(10*time.Second)),
		cptest.ParticipantEvent(evID("3"), "participant_joined", id, student.ID, "PA_student1", t0.Add(20*time.Second)),
		cptest.ParticipantEvent(evID("4"), "participant_left", id, student.ID, "PA_student1", t0.Add(80*time.Second)),
		cptest.ParticipantEvent(evID("5"), "participant_joined", id, student.ID, "PA_student2", t0.Add(90*time.Second)),
		cptest.ParticipantEvent(evID("6"), "participant_joined", id, "recorder-bot", "PA_rec", t0.Add(95*time.Second)),
		cptest.ParticipantEvent(evID("7"), "participant_left", id, teacher.ID, "PA_teacher", t0.Add(50*time.Minute)),
		cptest.RoomEvent(evID("8"), "room_finished", id, t0.Add(51*time.Minute)),
	}
	// The events happened: the server refuses events dated in its future (issue 17).
	env.Clock.Advance(57 * time.Minute)
	env.Login(t, teacher) // the access token expired meanwhile
	// Deliver every event 3 times, the copies concurrently: duplicates must change nothing.
	for _, ev := range events {
		var wg sync.WaitGroup
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				env.SendWebhook(t, ev).Want(t, 200)
			}()
		}
		wg.Wait()
	}
	var att struct {
		TeacherJoinedAt *time.Time `json:"teacher_joined_at"`
		RoomStartedAt   *time.Time `json:"room_started_at"`
		RoomFinishedAt  *time.Time `json:"room_finished_at"`
		Items           []struct {
			UserID   string `json:"user_id"`
			SID      string `json:"participant_sid"`
			Duration *int   `json:"duration_seconds"`
		} `json:"items"`
	}
	env.Do(t, "GET", "/api/v1/classes/"+id+"/attendance", teacher.Token, nil).Want(t, 200).JSON(t, &att)
	if att.TeacherJoinedAt == nil || !att.TeacherJoinedAt.Equal(t0.Add(10*time.Second)) ||
		att.RoomStartedAt == nil || !att.RoomStartedAt.Equal(t0) || att.RoomFinishedAt == nil {
		t.Errorf("room marks = %+v", att)
	}
	want := map[string]int{"PA_teacher": 50*60 - 10, "PA_student1": 60, "PA_student2": 51*60 - 90}
	if len(att.Items) != len(want) {
		t.Fatalf("attendance rows = %+v, want %d", att.Items, len(want))
	}
	for _, it := range att.Items {
		if it.Duration == nil || *it.Duration != want[it.SID] {
			t.Errorf("%s duration = %v, want %d", it.SID, it.Duration, want[it.SID])
		}
	}
	hooks.mu.Lock()
	if len(hooks.events) != len(events) {
		t.Errorf("hooks saw %d events, want %d (once each): %v", len(hooks.events), len(events), hooks.events)
	}
	hooks.mu.Unlock()

	student2 := env.NewUser(t, "student")
	env.Do(t, "GET", "/api/v1/classes/"+id+"/attendance", student2.Token, nil).WantError(t, 403, "forbidden")

	// Events for rooms that are not classes are acknowledged and ignored.
	env.SendWebhook(t, cptest.RoomEvent(evID("x"), "room_started", "lobby", t0)).Want(t, 200)
	env.SendWebhook(t, cptest.RoomEvent(evID("y"), "room_started", "00000000-0000-0000-0000-000000000000", t0)).Want(t, 200)
}

func TestLiveKitWebhookBadSignatures(t *testing.T) {
	env := cptest.Serve(t)
	teacher := env.NewUser(t, "teacher")
	id := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute})["id"].(string)
	ev := cptest.RoomEvent("EV_bad_"+id[:8], "room_started", id, env.Clock.Now())
	post := func(body []byte, auth string) *cptest.Response {
		h := map[string]string{"Content-Type": "application/webhook+json"}
		if auth != "" {
			h["Authorization"] = auth
		}
		return env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/webhooks/livekit", Body: body, Headers: h})
	}
	body, good := cptest.SignWebhook(t, env.Config.LiveKit.APIKey, env.Config.LiveKit.APISecret, ev)
	_, wrongSecret := cptest.SignWebhook(t, env.Config.LiveKit.APIKey, "not-the-secret-not-the-secret-0000", ev)
	_, wrongKey := cptest.SignWebhook(t, "otherkey", env.Config.LiveKit.APISecret, ev)
	// protocol/auth ignores a negative validity, so build the expired signature by hand.
	expired, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": env.Config.LiveKit.APIKey,
		"exp": time.Now().Add(-10 * time.Minute).Unix(), "nbf": time.Now().Add(-20 * time.Minute).Unix(),
		"sha256": sha256b64(body)}).SignedString([]byte(env.Config.LiveKit.APISecret))
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(string(body[:len(body)-1]) + ` `) // same JSON meaning, different bytes
	tampered = append(tampered, '}')
	for name, tc := range map[string]struct {
		body []byte
		auth string
	}{
		"no signature":   {body, ""},
		"wrong secret":   {body, wrongSecret},
		"unknown key":    {body, wrongKey},
		"tampered body":  {tampered, good},
		"garbage header": {body, "Bearer x.y.z"},
		"expired":        {body, expired},
		"alg none":       {body, "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJpc3MiOiJkZXZrZXkifQ."},
	} {
		t.Run(name, func(t *testing.T) { post(tc.body, tc.auth).WantError(t, 401, "invalid_signature") })
	}
	if c, err := env.Server.Store.ClassByID(context.Background(), id); err != nil || c.RoomStartedAt != nil {
		t.Fatalf("a refused webhook changed the class: %v %v", c.RoomStartedAt, err)
	}
	post(body, good).Want(t, 200)
	if c, _ := env.Server.Store.ClassByID(context.Background(), id); c.RoomStartedAt == nil {
		t.Error("a valid webhook was not applied")
	}
}

func TestRatings(t *testing.T) {
	env := cptest.Serve(t)
	teacher := env.NewUser(t, "teacher")
	student := env.NewUser(t, "student")
	absent := env.NewUser(t, "student")
	id := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute, Duration: 30})["id"].(string)
	at := env.Clock.Now().Add(5 * time.Minute)
	env.SendWebhook(t, cptest.ParticipantEvent("EV_r1_"+id[:8], "participant_joined", id, student.ID, "PA_r1", at)).Want(t, 200)

	rate := func(u *cptest.User, stars int) *cptest.Response {
		return env.Do(t, "POST", "/api/v1/classes/"+id+"/rating", u.Token, map[string]any{"stars": stars, "comment": "great <b>class</b>"})
	}
	rate(student, 5).WantError(t, 409, "conflict") // not over yet
	env.Clock.Advance(36 * time.Minute)
	for _, u := range []*cptest.User{teacher, student, absent} {
		env.Login(t, u)
	}
	rate(student, 6).WantError(t, 422, "validation_failed")
	rate(absent, 1).WantError(t, 403, "forbidden")
	rate(teacher, 5).WantError(t, 403, "forbidden")
	rate(student, 4).Want(t, 201)
	rate(student, 1).WantError(t, 409, "conflict")
	profile := env.Do(t, "GET", "/api/v1/teachers/"+teacher.ID, "", nil).Want(t, 200).Map(t)
	if profile["rating"] != float64(4) || profile["rating_count"] != float64(1) {
		t.Errorf("teacher rating = %v (%v ratings), want 4 (1)", profile["rating"], profile["rating_count"])
	}
	c := env.Do(t, "GET", "/api/v1/classes/"+id, "", nil).Want(t, 200).Map(t)
	if c["teacher"].(map[string]any)["rating"] != float64(4) {
		t.Errorf("class teacher rating = %v", c["teacher"])
	}
}
