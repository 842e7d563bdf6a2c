package controlplane_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

// TestRosterInBrowser: on the class's manage page the teacher sees the roster (names and
// initials avatars, no ids, not themself), messages the booked students, and ends the class
// for everyone after a confirmation that says what happens to the students' credits.
func TestRosterInBrowser(t *testing.T) {
	b := needBrowser(t)
	env := b.serveUI(t, nil)
	teacher, admin := env.NewUser(t, "teacher"), env.NewUser(t, "admin")
	var students []*cptest.User
	for _, n := range []string{"Ann Lee", "Ben Ode", "Cy Wait"} {
		u := env.NewUser(t, "student")
		env.Do(t, "PATCH", "/api/v1/me", u.Token, map[string]string{"name": n}).Want(t, 200)
		u.Name = n
		grantCredits(t, env, admin, u.ID, 50)
		students = append(students, u)
	}
	c := env.CreateClass(t, teacher, cptest.ClassSpec{Title: "Browser roster " + cptest.RandomHex(3), StartsIn: 30 * time.Minute,
		Duration: 60, Capacity: 2, Price: 10})
	id := c["id"].(string)
	starts, _ := time.Parse(time.RFC3339, c["starts_at"].(string))
	for _, s := range students[:2] {
		env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + id + "/bookings", Token: s.Token,
			Headers: map[string]string{"Idempotency-Key": "b-" + cptest.RandomHex(4)}}).Want(t, 201)
	}
	env.Do(t, "POST", "/api/v1/classes/"+id+"/waitlist", students[2].Token, nil).Want(t, 201)
	env.Clock.Advance(starts.Sub(env.Clock.Now()) + 20*time.Minute)
	for _, u := range append([]*cptest.User{teacher, admin}, students...) {
		env.Login(t, u) // access tokens expired meanwhile
	}
	env.SendWebhook(t, cptest.ParticipantEvent("EV_bt_"+id[:8], webhook.EventParticipantJoined, id, teacher.ID, "PA_t", starts)).Want(t, 200)
	env.SendWebhook(t, cptest.ParticipantEvent("EV_ba_"+id[:8], webhook.EventParticipantJoined, id, students[0].ID, "PA_a", starts)).Want(t, 200)
	env.SendWebhook(t, cptest.ParticipantEvent("EV_bl_"+id[:8], webhook.EventParticipantLeft, id, students[0].ID, "PA_a", starts.Add(10*time.Minute))).Want(t, 200)

	var data struct {
		Rows []struct {
			User, Name, Initials, Color string
			Cells                       []string
		}
		Waitlist     []string
		Summary      string
		MessageToast string
		Preview      string
		Dialog       string
		EndToast     string
		EndedCard    string
	}
	const message = "Slides are on the class page."
	b.run(t, map[string]any{"scenario": "roster", "base": env.URL, "classID": id, "message": message,
		"teacher": map[string]string{"email": teacher.Email, "password": teacher.Password}}, &data)

	if len(data.Rows) != 2 {
		t.Fatalf("roster rows = %+v, want the two booked students", data.Rows)
	}
	want := map[string]string{"Ann Lee": "AL", "Ben Ode": "BO"}
	for _, r := range data.Rows {
		if want[r.Name] != r.Initials || r.Color == "" || r.User == teacher.ID {
			t.Errorf("row %+v: want a booked student with initials %q on a colour", r, want[r.Name])
		}
		for _, cell := range r.Cells {
			for _, u := range append(students, teacher) {
				if strings.Contains(cell, u.ID[:8]) {
					t.Errorf("row %q shows an id fragment", r.Cells)
				}
			}
		}
	}
	if len(data.Waitlist) != 1 || !strings.Contains(data.Waitlist[0], "Cy Wait") {
		t.Errorf("waitlist rows = %q", data.Waitlist)
	}
	if !strings.Contains(data.Summary, "2 booked") || !strings.Contains(data.Summary, "1 attended") {
		t.Errorf("summary = %q", data.Summary)
	}
	if !strings.Contains(data.MessageToast, "2 students") {
		t.Errorf("message toast = %q", data.MessageToast)
	}
	// 20 of 60 minutes taught: less than half, so each student gets 40/60 of 10 = 6 back.
	if !strings.Contains(data.Dialog, "6 of 10 credits") || !strings.Contains(data.Preview, "credits") {
		t.Errorf("End confirmation = %q (preview %q), want it to say 6 of 10 credits come back", data.Dialog, data.Preview)
	}
	if !strings.Contains(data.EndedCard, "Ended for everyone") {
		t.Errorf("after the End the card says %q", data.EndedCard)
	}

	// What the page did, as the API sees it.
	l := env.Do(t, "GET", "/api/v1/classes/"+id+"/lifecycle", teacher.Token, nil).Want(t, http.StatusOK).Map(t)
	if l["state"] != "ended" || l["ended_at"] == nil {
		t.Errorf("lifecycle after the End = %v", l)
	}
	env.Do(t, "POST", "/api/v1/classes/"+id+"/join", students[1].Token, nil).WantError(t, http.StatusConflict, "class_ended")
	for _, s := range students[:2] {
		var out struct {
			Items []map[string]any `json:"items"`
		}
		env.Do(t, "GET", "/api/v1/me/notifications", s.Token, nil).Want(t, http.StatusOK).JSON(t, &out)
		found := false
		for _, it := range out.Items {
			found = found || it["kind"] == "class_message" && it["body"] == message
		}
		if !found {
			t.Errorf("%s did not get the message: %v", s.Name, out.Items)
		}
	}
	if es := auditCount(t, env, "class.ended", id); len(es) != 1 || es[0].ActorID != teacher.ID {
		t.Errorf("class.ended audit = %+v", es)
	}
}
