package booking_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// Booked students are reminded 24 h and 1 h before the start (the default offsets), once
// each, on the test clock; a student who books 2 h before gets only the 1 h reminder; sweeps
// racing each other still send each reminder once (booking_reminders' primary key); the
// email shows the time in the student's own zone, named.
func TestRemindersAt24hAnd1hOnce(t *testing.T) {
	// The periodic sweep waits a day of real time, so only this test's sweeps send reminders.
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) { c.Money.SweepInterval = 24 * time.Hour }})
	w := &world{env: env, admin: env.NewUser(t, "admin"), teacher: env.NewUser(t, "teacher")}
	bc := w.bookedClass(t, 48*time.Hour, 20)
	ctx := context.Background()
	tokyo := bc.students[0]
	w.env.Do(t, "PATCH", "/api/v1/me", tokyo.Token, map[string]any{"time_zone": "Asia/Tokyo"}).Want(t, http.StatusOK)

	// The package's database holds other tests' classes, which the moved clock makes due as
	// well: count what this class's students got, not what a sweep returned.
	sweep := func() {
		if _, err := w.env.Server.Money.Booking.Sweep(ctx); err != nil {
			t.Fatal(err)
		}
	}
	racingSweeps := func() { parallel(5, func(int) { sweep() }) }
	reminders := func(u *cptest.User) []string {
		var out struct {
			Items []map[string]any `json:"items"`
		}
		w.env.Do(t, "GET", "/api/v1/me/notifications", u.Token, nil).Want(t, http.StatusOK).JSON(t, &out)
		var titles []string
		for _, it := range out.Items {
			if it["kind"] == "class_starting" {
				titles = append(titles, it["title"].(string))
			}
		}
		return titles
	}
	total := func(us ...*cptest.User) int {
		n := 0
		for _, u := range us {
			n += len(reminders(u))
		}
		return n
	}
	untilStart := func() time.Duration { return bc.starts.Sub(w.env.Clock.Now()) }

	w.advance(t, untilStart()-24*time.Hour-10*time.Minute, bc.students...)
	sweep()
	if n := total(bc.students...); n != 0 {
		t.Fatalf("%d reminders 24h10m before the start, want none yet", n)
	}
	w.advance(t, 15*time.Minute, bc.students...) // 23h55m before
	racingSweeps()
	sweep()
	for _, s := range bc.students {
		if got := reminders(s); len(got) != 1 || !strings.HasPrefix(got[0], "Starting in 24 hours:") {
			t.Fatalf("after racing sweeps a student has reminders %q, want one 24 h reminder", got)
		}
	}

	w.advance(t, untilStart()-2*time.Hour, bc.students...)
	late := w.student(t, 100)
	w.mustBook(t, late, bc.id)
	sweep()
	if n := total(append(bc.students, late)...); n != 3 {
		t.Fatalf("%d reminders 2 h before the start, want still 3 (the late booker gets no stale 24 h one)", n)
	}
	w.advance(t, untilStart()-59*time.Minute, append(bc.students, late)...)
	racingSweeps()
	sweep()

	for _, s := range bc.students {
		got := reminders(s)
		if len(got) != 2 || !strings.HasPrefix(got[0], "Starting in 1 hour:") || !strings.HasPrefix(got[1], "Starting in 24 hours:") {
			t.Fatalf("reminders of a student = %q, want the 1 h and the 24 h one", got)
		}
		cptest.WaitEmail(t, s.Email, "Starting in 24 hours:")
		cptest.WaitEmail(t, s.Email, "Starting in 1 hour:")
	}
	if got := reminders(late); len(got) != 1 || !strings.HasPrefix(got[0], "Starting in 1 hour:") {
		t.Fatalf("reminders of the late booker = %q, want only the 1 h one", got)
	}
	m := cptest.WaitEmail(t, tokyo.Email, "Starting in 1 hour:")
	want := bc.starts.In(mustZone(t, "Asia/Tokyo")).Format("15:04 MST") + " (Asia/Tokyo)"
	if !strings.Contains(m.Text, want) {
		t.Fatalf("reminder to a Tokyo student does not show %q:\n%s", want, m.Text)
	}
	w.checkLedger(t)
}

func mustZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}
