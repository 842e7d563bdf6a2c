package controlplane_test

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

type rosterResp struct {
	ClassID       string          `json:"class_id"`
	TeacherSecs   int             `json:"teacher_attended_seconds"`
	Capacity      int             `json:"capacity"`
	SeatsTaken    int             `json:"seats_taken"`
	StudentsField []rosterStudent `json:"students"`
	WaitlistField []rosterWaiting `json:"waitlist"`
}

type rosterStudent struct {
	UserID   string `json:"user_id"`
	Name     string `json:"name"`
	Avatar   struct{ Initials, Color string }
	Status   string `json:"booking_status"`
	Attended bool   `json:"attended"`
	Seconds  int    `json:"attended_seconds"`
	InRoom   bool   `json:"in_room"`
	Banned   bool   `json:"banned"`
}

type rosterWaiting struct {
	UserID   string `json:"user_id"`
	Name     string `json:"name"`
	Status   string `json:"status"`
	Position int    `json:"position"`
}

// TestRoster: the teacher sees who booked (whole names and avatars, never the teacher, never
// id fragments), who waits, who attended and for how long; exports it as CSV (formula-safe);
// and messages every booked student by email and in-app. Nobody else may.
func TestRoster(t *testing.T) {
	env := cptest.Serve(t)
	teacher, other, admin := env.NewUser(t, "teacher"), env.NewUser(t, "teacher"), env.NewUser(t, "admin")
	names := []string{"Ann Lee", "=cmd Bob", "carol"}
	var students []*cptest.User
	for _, n := range append(names, "Dave Wait") {
		u := env.NewUser(t, "student")
		env.Do(t, "PATCH", "/api/v1/me", u.Token, map[string]string{"name": n}).Want(t, 200)
		u.Name = n
		grantCredits(t, env, admin, u.ID, 50)
		students = append(students, u)
	}
	ann, bob, carol, dave := students[0], students[1], students[2], students[3]
	title := "Roster class " + cptest.RandomHex(3)
	c := env.CreateClass(t, teacher, cptest.ClassSpec{Title: title, StartsIn: 30 * time.Minute, Duration: 60, Capacity: 3, Price: 10})
	id := c["id"].(string)
	starts, err := time.Parse(time.RFC3339, c["starts_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*cptest.User{ann, bob, carol} {
		env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + id + "/bookings", Token: s.Token,
			Headers: map[string]string{"Idempotency-Key": "r-" + cptest.RandomHex(4)}}).Want(t, 201)
	}
	env.Do(t, "POST", "/api/v1/classes/"+id+"/waitlist", dave.Token, nil).Want(t, 201)

	// The class runs: the SFU reports who came and went.
	env.Clock.Advance(starts.Sub(env.Clock.Now()) + 40*time.Minute)
	for _, ev := range []struct {
		event, psid string
		u           *cptest.User
		at          time.Duration
	}{
		{webhook.EventParticipantJoined, "PA_t", teacher, 0},
		{webhook.EventParticipantJoined, "PA_ann", ann, 0},
		{webhook.EventParticipantJoined, "PA_bob", bob, 5 * time.Minute},
		{webhook.EventParticipantLeft, "PA_ann", ann, 30 * time.Minute},
	} {
		env.SendWebhook(t, cptest.ParticipantEvent("EV_"+id[:8]+ev.psid+ev.event, ev.event, id, ev.u.ID, ev.psid, starts.Add(ev.at))).Want(t, 200)
	}
	for _, u := range append([]*cptest.User{teacher, other, admin}, students...) {
		env.Login(t, u)
	}

	var r rosterResp
	env.Do(t, "GET", "/api/v1/classes/"+id+"/roster", teacher.Token, nil).Want(t, 200).JSON(t, &r)
	if len(r.StudentsField) != 3 || len(r.WaitlistField) != 1 || r.Capacity != 3 || r.SeatsTaken != 3 {
		t.Fatalf("roster = %+v, want 3 students and 1 waiting", r)
	}
	byName := map[string]rosterStudent{}
	for _, s := range r.StudentsField {
		if s.UserID == teacher.ID || len(s.UserID) != 36 {
			t.Errorf("student row %+v: the teacher or a fragment of an id", s)
		}
		byName[s.Name] = s
	}
	a, b, cr := byName["Ann Lee"], byName["=cmd Bob"], byName["carol"]
	if a.UserID != ann.ID || !a.Attended || a.Seconds != 30*60 || a.InRoom || a.Status != "confirmed" || a.Avatar.Initials != "AL" || a.Avatar.Color == "" {
		t.Errorf("ann = %+v, want 30 attended minutes, gone, initials AL", a)
	}
	if !b.Attended || !b.InRoom || b.Seconds < 35*60 || b.Seconds > 36*60 || b.Avatar.Initials != "B" {
		t.Errorf("bob = %+v, want in the room for about 35 minutes", b)
	}
	if cr.UserID != carol.ID || cr.Attended || cr.Seconds != 0 || cr.Avatar.Initials != "C" {
		t.Errorf("carol = %+v, want booked, not attended", cr)
	}
	if w := r.WaitlistField[0]; w.UserID != dave.ID || w.Name != "Dave Wait" || w.Status != "waiting" || w.Position != 1 {
		t.Errorf("waitlist = %+v", r.WaitlistField)
	}
	if r.TeacherSecs < 40*60 || r.TeacherSecs > 41*60 {
		t.Errorf("teacher attended %ds, want about 40 minutes", r.TeacherSecs)
	}

	// Only the class's teacher and admins.
	env.Do(t, "GET", "/api/v1/classes/"+id+"/roster", admin.Token, nil).Want(t, 200)
	env.Do(t, "GET", "/api/v1/classes/"+id+"/roster", other.Token, nil).WantError(t, 403, "forbidden")
	env.Do(t, "GET", "/api/v1/classes/"+id+"/roster", ann.Token, nil).WantError(t, 403, "forbidden")
	env.Do(t, "GET", "/api/v1/classes/"+id+"/roster.csv", ann.Token, nil).WantError(t, 403, "forbidden")
	env.Do(t, "GET", "/api/v1/classes/00000000-0000-0000-0000-000000000000/roster", teacher.Token, nil).WantError(t, 404, "not_found")

	res := env.Do(t, "GET", "/api/v1/classes/"+id+"/roster.csv", teacher.Token, nil).Want(t, 200)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("csv content type %q", ct)
	}
	rows, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
	if err != nil || len(rows) != 5 || rows[0][0] != "name" || rows[0][4] != "attended_minutes" {
		t.Fatalf("csv = %q, %v", res.Body, err)
	}
	csvRows := map[string][]string{}
	for _, row := range rows[1:] {
		csvRows[row[0]] = row
	}
	if row := csvRows["Ann Lee"]; row == nil || row[1] != "confirmed" || row[3] != "yes" || row[4] != "30" {
		t.Errorf("ann's csv row = %v", row)
	}
	if csvRows["'=cmd Bob"] == nil || csvRows["=cmd Bob"] != nil {
		t.Errorf("a formula-like name was not defused: %v", rows)
	}
	if row := csvRows["Dave Wait"]; row == nil || row[1] != "waitlist_waiting" || row[8] != "1" {
		t.Errorf("dave's csv row = %v", row)
	}
	if strings.Contains(string(res.Body), ann.ID) || strings.Contains(string(res.Body), ann.Email) {
		t.Error("the csv carries ids or email addresses")
	}

	// A message to everyone booked: an email and a notification each, not to the waitlist.
	msg := func(u *cptest.User, body any) *cptest.Response {
		return env.Do(t, "POST", "/api/v1/classes/"+id+"/message", u.Token, body)
	}
	msg(ann, map[string]string{"message": "hi"}).WantError(t, 403, "forbidden")
	msg(teacher, map[string]string{"message": ""}).WantError(t, 422, "validation_failed")
	msg(teacher, map[string]string{"message": "   "}).WantError(t, 422, "validation_failed")
	var sent struct {
		Recipients int `json:"recipients"`
	}
	msg(teacher, map[string]string{"message": "Bring a notebook <b>and</b> a pen."}).Want(t, 200).JSON(t, &sent)
	if sent.Recipients != 3 {
		t.Fatalf("message reached %d, want 3", sent.Recipients)
	}
	notes := func(u *cptest.User) int {
		var out struct {
			Items []map[string]any `json:"items"`
		}
		env.Do(t, "GET", "/api/v1/me/notifications", u.Token, nil).Want(t, http.StatusOK).JSON(t, &out)
		n := 0
		for _, it := range out.Items {
			if it["kind"] == "class_message" && strings.Contains(it["body"].(string), "notebook") {
				n++
			}
		}
		return n
	}
	for _, s := range []*cptest.User{ann, bob, carol} {
		if n := notes(s); n != 1 {
			t.Errorf("%s has %d class messages, want 1", s.Name, n)
		}
		m := cptest.WaitEmail(t, s.Email, title+": message from")
		if !strings.Contains(m.Text, "Bring a notebook") {
			t.Errorf("email to %s = %q", s.Name, m.Text)
		}
	}
	if n := notes(dave); n != 0 {
		t.Errorf("the waitlisted student got %d class messages", n)
	}
	if es := auditCount(t, env, "class.messaged", id); len(es) != 1 || es[0].Details["recipients"] != 3.0 {
		t.Errorf("message audit = %+v", es)
	}
}
