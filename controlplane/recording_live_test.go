package controlplane_test

import (
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

// TestWaitlistWatchesLive (issue 11: "students beyond the room's capacity watch, view-only"):
// in a full class, a student on the waitlist sees the running recording (live_only) and
// fetches its live playlist, init and media segments through the proxy; a student neither
// booked nor queued gets 403. Once the recording ends the queued student gets 403 for the
// same URLs, until they book a seat that frees up: then the recording is theirs too.
func TestWaitlistWatchesLive(t *testing.T) {
	st := newRecStackCap(t, nil, 1)
	env := st.env
	queued := env.NewUser(t, "student")
	env.Do(t, "POST", "/api/v1/classes/"+st.classID+"/waitlist", queued.Token, nil).Want(t, 201)
	// Nothing runs yet: the queued student may look and finds nothing to watch.
	if v := env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", queued.Token, nil).Want(t, 200).Map(t); !v["live_only"].(bool) ||
		len(v["items"].([]any)) != 0 {
		t.Fatalf("queued student's list before recording: %v; want live_only and no items", v)
	}
	publishTeacher(t, st)

	rec := env.Do(t, "POST", "/api/v1/classes/"+st.classID+"/recordings", st.teacher.Token, nil).Want(t, 201).Map(t)
	id, playlist := rec["id"].(string), rec["playlist_url"].(string)
	var segs []string
	pollFor(t, 60*time.Second, "2 segments in the live playlist", func() bool {
		res := env.Do(t, "GET", playlist, st.teacher.Token, nil)
		segs = segRE.FindAllString(string(res.Body), -1)
		return res.Status == 200 && len(segs) >= 2
	})
	media := []string{playlist, "/api/v1/recordings/" + id + "/media/init_0.mp4", "/api/v1/recordings/" + id + "/media/" + segs[0]}

	v := env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", queued.Token, nil).Want(t, 200).Map(t)
	items := v["items"].([]any)
	if !v["live_only"].(bool) || v["may_manage"].(bool) || len(items) != 1 || items[0].(map[string]any)["id"] != id ||
		!items[0].(map[string]any)["live"].(bool) {
		t.Fatalf("queued student's list while recording: %v; want live_only with the running recording", v)
	}
	for _, u := range media {
		res := env.Do(t, "GET", u, queued.Token, nil).Want(t, 200)
		if len(res.Body) == 0 {
			t.Errorf("queued student: %s is empty", u)
		}
		env.Do(t, "GET", u, st.outsider.Token, nil).WantError(t, 403, "not_booked")
	}
	env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", st.outsider.Token, nil).WantError(t, 403, "not_booked")
	if v := env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", st.student.Token, nil).Want(t, 200).Map(t); v["live_only"].(bool) {
		t.Errorf("booked student's list is live_only")
	}

	env.Do(t, "POST", "/api/v1/recordings/"+id+"/stop", st.teacher.Token, nil).Want(t, 200)
	pollFor(t, 60*time.Second, "the recording to complete (egress_ended webhook)", func() bool {
		v := env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", st.teacher.Token, nil).Want(t, 200).Map(t)
		items := v["items"].([]any)
		return len(items) == 1 && items[0].(map[string]any)["state"] == "complete"
	})
	for _, u := range media {
		env.Do(t, "GET", u, queued.Token, nil).WantError(t, 403, "not_booked")
		env.Do(t, "GET", u, st.student.Token, nil).Want(t, 200)
	}
	if v := env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", queued.Token, nil).Want(t, 200).Map(t); len(v["items"].([]any)) != 0 {
		t.Errorf("queued student's list after the recording ended: %v; want no items", v)
	}

	// The booked student cancels; the seat is offered to the queue; the queued student books
	// it (through the booking code, which moves the credits) and may watch the recording.
	var mine struct {
		Upcoming []struct {
			ID      string `json:"id"`
			ClassID string `json:"class_id"`
		} `json:"upcoming"`
	}
	env.Do(t, "GET", "/api/v1/me/bookings", st.student.Token, nil).Want(t, 200).JSON(t, &mine)
	if len(mine.Upcoming) != 1 || mine.Upcoming[0].ClassID != st.classID {
		t.Fatalf("booked student's bookings: %+v", mine)
	}
	env.Do(t, "DELETE", "/api/v1/bookings/"+mine.Upcoming[0].ID, st.student.Token, nil).Want(t, 200)
	grantCredits(t, env, st.admin, queued.ID, 20)
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + st.classID + "/bookings", Token: queued.Token,
		Headers: map[string]string{"Idempotency-Key": "live-" + cptest.RandomHex(4)}}).Want(t, 201)
	for _, u := range media {
		env.Do(t, "GET", u, queued.Token, nil).Want(t, 200)
	}
	env.Do(t, "GET", media[0], st.student.Token, nil).WantError(t, 403, "not_booked")
}
