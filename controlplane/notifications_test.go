package controlplane_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// sseEvent is one server-sent event as a client saw it, with when it arrived.
type sseEvent struct {
	Event string
	ID    int64
	Data  map[string]any
	At    time.Time
}

// sseStream reads GET /me/notifications/stream of env with token until the test ends.
type sseStream struct {
	events chan sseEvent
	closed chan struct{}
	cancel context.CancelFunc
}

func openStream(t *testing.T, env *cptest.Env, token string, lastID int64) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, "GET", env.URL+"/api/v1/me/notifications/stream", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if lastID > 0 {
		req.Header.Set("Last-Event-ID", strconv.FormatInt(lastID, 10))
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatalf("open stream: %v", err)
	}
	if res.StatusCode != http.StatusOK || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		cancel()
		t.Fatalf("stream: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	s := &sseStream{events: make(chan sseEvent, 100), closed: make(chan struct{}), cancel: cancel}
	connected := make(chan struct{})
	go func() {
		defer close(s.closed)
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		var ev sseEvent
		once := false
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == ": connected" && !once:
				once = true
				close(connected)
			case strings.HasPrefix(line, "event: "):
				ev.Event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "id: "):
				ev.ID, _ = strconv.ParseInt(strings.TrimPrefix(line, "id: "), 10, 64)
			case strings.HasPrefix(line, "data: "):
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data)
			case line == "" && ev.Event != "":
				ev.At = time.Now()
				s.events <- ev
				ev = sseEvent{}
			}
		}
	}()
	select {
	case <-connected:
	case <-time.After(15 * time.Second):
		cancel()
		t.Fatal("stream did not say connected within 15 s")
	}
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) close() {
	s.cancel()
	<-s.closed
}

// next returns the next event of one of the wanted names (others are skipped), failing
// after 15 s.
func (s *sseStream) next(t *testing.T, names ...string) sseEvent {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case ev := <-s.events:
			for _, n := range names {
				if ev.Event == n {
					return ev
				}
			}
		case <-s.closed:
			t.Fatalf("stream closed while waiting for %v", names)
		case <-deadline:
			t.Fatalf("no %v event within 15 s", names)
		}
	}
}

// notification waits for the next notification of kind.
func (s *sseStream) notification(t *testing.T, kind string) sseEvent {
	t.Helper()
	for {
		ev := s.next(t, "notification")
		if ev.Data["kind"] == kind {
			return ev
		}
	}
}

// twoReplicas starts two control planes on the same database and Redis prefix: what a
// deployment with two replicas behind a load balancer is.
func twoReplicas(t *testing.T) (a, b *cptest.Env) {
	t.Helper()
	prefix := "atrium:test:" + cptest.RandomHex(6) + ":"
	shared := cptest.Options{Config: func(c *controlplane.Config) { c.Redis.KeyPrefix = prefix }}
	return cptest.Serve(t, shared), cptest.Serve(t, shared)
}

func grant(t *testing.T, env *cptest.Env, admin *cptest.User, userID string, credits int) {
	t.Helper()
	env.Do(t, "POST", "/api/v1/admin/credits/grants", admin.Token,
		map[string]any{"user_id": userID, "credits": credits, "reason": "test funding"}).Want(t, http.StatusCreated)
}

func bookClass(t *testing.T, env *cptest.Env, u *cptest.User, classID string) string {
	t.Helper()
	var b struct {
		ID string `json:"id"`
	}
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + classID + "/bookings", Token: u.Token,
		Headers: map[string]string{"Idempotency-Key": "k-" + cptest.RandomHex(6)}}).Want(t, http.StatusCreated).JSON(t, &b)
	return b.ID
}

type noticeList struct {
	Items []struct {
		ID   int64  `json:"id"`
		Kind string `json:"kind"`
		Read bool   `json:"read"`
	} `json:"items"`
	Unread int `json:"unread"`
}

// A booking made through one replica reaches the student's page, connected to the other
// replica, through Redis within 2 s; read marks and sign-outs travel the same way; a
// reconnecting page catches up on what it missed.
func TestNotificationsPushedAcrossReplicas(t *testing.T) {
	a, b := twoReplicas(t)
	admin, teacher, student := a.NewUser(t, "admin"), a.NewUser(t, "teacher"), a.NewUser(t, "student")
	grant(t, a, admin, student.ID, 15)
	class := a.CreateClass(t, teacher, cptest.ClassSpec{Title: "Live " + cptest.RandomHex(3), Price: 10})

	stream := openStream(t, b, student.Token, 0)
	sent := time.Now()
	bookingID := bookClass(t, a, student, class["id"].(string))
	answered := time.Now()
	booked := stream.notification(t, "booking")
	low := stream.notification(t, "low_credits") // 15 - 10 < 10: the balance crossed the threshold
	delay := booked.At.Sub(sent)
	t.Logf("notification pushed across replicas: %v after the booking request was sent (%v after its answer)",
		delay.Round(time.Millisecond), booked.At.Sub(answered).Round(time.Millisecond))
	if late := booked.At.Sub(answered); late > 2*time.Second {
		t.Fatalf("the booking notification reached the page %v after the booking committed, want within 2 s", late)
	}
	if booked.ID <= 0 || booked.Data["title"] == "" || low.Data["data"].(map[string]any)["balance"] != float64(5) {
		t.Fatalf("events: %+v %+v", booked, low)
	}

	// Dismissing on one replica: the page on the other hears it; the list agrees.
	a.Do(t, "POST", "/api/v1/me/notifications/"+strconv.FormatInt(booked.ID, 10)+"/read", student.Token, nil).Want(t, http.StatusNoContent)
	if ev := stream.next(t, "read"); len(ev.Data["ids"].([]any)) != 1 || ev.Data["ids"].([]any)[0] != float64(booked.ID) {
		t.Fatalf("read event %+v, want ids [%d]", ev, booked.ID)
	}
	var list noticeList
	b.Do(t, "GET", "/api/v1/me/notifications", student.Token, nil).Want(t, http.StatusOK).JSON(t, &list)
	if list.Unread != 1 || len(list.Items) != 2 || !list.Items[1].Read || list.Items[0].Read {
		t.Fatalf("after reading one: %+v", list)
	}
	a.Do(t, "POST", "/api/v1/me/notifications/"+strconv.FormatInt(booked.ID, 10)+"/read", teacher.Token, nil).
		WantError(t, http.StatusNotFound, "not_found") // not the teacher's
	a.Do(t, "POST", "/api/v1/me/notifications/read-all", student.Token, nil).Want(t, http.StatusOK)
	if ev := stream.next(t, "read"); ev.Data["all"] != true {
		t.Fatalf("read-all event %+v", ev)
	}
	b.Do(t, "GET", "/api/v1/me/notifications", student.Token, nil).Want(t, http.StatusOK).JSON(t, &list)
	if list.Unread != 0 {
		t.Fatalf("unread after read-all = %d", list.Unread)
	}

	// The page goes away; the student cancels; the page comes back and catches up.
	stream.close()
	a.Do(t, "DELETE", "/api/v1/bookings/"+bookingID, student.Token, nil).Want(t, http.StatusOK)
	back := openStream(t, b, student.Token, low.ID)
	got := map[string]bool{}
	for range 2 {
		got[back.next(t, "notification").Data["kind"].(string)] = true
	}
	if !got["cancellation"] || !got["refund"] {
		t.Fatalf("catch-up after reconnecting = %v, want cancellation and refund", got)
	}

	// Signing out on one replica ends the session's stream on the other.
	a.Do(t, "POST", "/api/v1/auth/logout", student.Token, nil).Want(t, http.StatusNoContent)
	back.next(t, "session_ended")
	select {
	case <-back.closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the stream stayed open after session_ended")
	}
}

// Preferences per kind and channel are honoured when sending: in-app off stores no record
// (so nothing is pushed), email off queues no email; other kinds are untouched.
func TestNotificationPreferences(t *testing.T) {
	env := cptest.Serve(t)
	admin, teacher, student := env.NewUser(t, "admin"), env.NewUser(t, "teacher"), env.NewUser(t, "student")
	grant(t, env, admin, student.ID, 100)

	var prefs struct {
		Items []map[string]any `json:"items"`
	}
	env.Do(t, "GET", "/api/v1/me/notification-preferences", student.Token, nil).Want(t, http.StatusOK).JSON(t, &prefs)
	if len(prefs.Items) != 7 || prefs.Items[0]["kind"] != "booking" || prefs.Items[0]["in_app"] != true || prefs.Items[0]["email"] != true {
		t.Fatalf("default preferences = %v", prefs.Items)
	}
	env.Do(t, "PUT", "/api/v1/me/notification-preferences", student.Token, map[string]any{"items": []map[string]any{
		{"kind": "booking", "in_app": false, "email": false}, {"kind": "cancellation", "in_app": true, "email": false}}}).
		Want(t, http.StatusOK).JSON(t, &prefs)
	if prefs.Items[0]["in_app"] != false || prefs.Items[1]["email"] != false || prefs.Items[1]["in_app"] != true {
		t.Fatalf("preferences after PUT = %v", prefs.Items)
	}
	env.Do(t, "PUT", "/api/v1/me/notification-preferences", student.Token, map[string]any{"items": []map[string]any{
		{"kind": "nope", "in_app": false, "email": false}}}).WantError(t, http.StatusUnprocessableEntity, "validation_failed")

	class := env.CreateClass(t, teacher, cptest.ClassSpec{Title: "Prefs " + cptest.RandomHex(3), Price: 10})
	id := bookClass(t, env, student, class["id"].(string))
	env.Do(t, "DELETE", "/api/v1/bookings/"+id, student.Token, nil).Want(t, http.StatusOK)

	var list noticeList
	env.Do(t, "GET", "/api/v1/me/notifications", student.Token, nil).Want(t, http.StatusOK).JSON(t, &list)
	kinds := map[string]int{}
	for _, n := range list.Items {
		kinds[n.Kind]++
	}
	if kinds["booking"] != 0 || kinds["cancellation"] != 1 || kinds["refund"] != 1 {
		t.Fatalf("notification kinds = %v, want no booking, one cancellation, one refund", kinds)
	}
	outbox := map[string]int{}
	rows, err := env.Server.Pool.Query(context.Background(), `SELECT kind, count(*) FROM email_outbox WHERE to_addr = $1 GROUP BY kind`, student.Email)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			t.Fatal(err)
		}
		outbox[k] = n
	}
	rows.Close()
	if outbox["booking_confirmation"] != 0 || outbox["cancellation"] != 0 || outbox["refund"] != 1 {
		t.Fatalf("emails queued = %v, want only the refund", outbox)
	}
}
