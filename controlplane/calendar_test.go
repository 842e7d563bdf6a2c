package controlplane_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	ics "github.com/arran4/golang-ical"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

// parseICS parses an iCalendar document with a Go iCal parser (not ours) and returns its
// METHOD and events.
func parseICS(t *testing.T, raw []byte) (string, []*ics.VEvent) {
	t.Helper()
	cal, err := ics.ParseCalendar(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ParseCalendar: %v\n%s", err, raw)
	}
	method := ""
	for _, p := range cal.CalendarProperties {
		if p.IANAToken == "METHOD" {
			method = p.Value
		}
	}
	return method, cal.Events()
}

// icsOf returns the one .ics attachment of m.
func icsOf(t *testing.T, m cptest.Mail) []byte {
	t.Helper()
	for _, a := range m.Attachments {
		if strings.HasSuffix(a.FileName, ".ics") && strings.HasPrefix(a.ContentType, "text/calendar") {
			return cptest.MailAttachment(t, m, a)
		}
	}
	t.Fatalf("email %q has no .ics attachment: %+v", m.Subject, m.Attachments)
	return nil
}

func startOf(t *testing.T, ev *ics.VEvent) time.Time {
	t.Helper()
	at, err := ev.GetStartAt()
	if err != nil {
		t.Fatal(err)
	}
	return at
}

// A booking email shows the time in the student's zone, named, and carries a METHOD:REQUEST
// invite that a Go iCal parser reads as the class's instant in the class's zone; cancelling
// sends METHOD:CANCEL with the same UID and a higher SEQUENCE. The private feed lists booked
// and taught classes the same way, and stops answering once revoked or replaced.
func TestCalendarInvitesAndFeed(t *testing.T) {
	env := cptest.Serve(t)
	admin, teacher, student := env.NewUser(t, "admin"), env.NewUser(t, "teacher"), env.NewUser(t, "student")
	grant(t, env, admin, student.ID, 100)
	env.Do(t, "PATCH", "/api/v1/me", student.Token, map[string]any{"time_zone": "Asia/Tokyo"}).Want(t, http.StatusOK)
	title := "Calendars " + cptest.RandomHex(3)
	class := env.CreateClass(t, teacher, cptest.ClassSpec{Title: title, TimeZone: "America/New_York", Duration: 90})
	starts, err := time.Parse(time.RFC3339, class["starts_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	ny, _ := time.LoadLocation("America/New_York")
	tokyo, _ := time.LoadLocation("Asia/Tokyo")
	bookingID := bookClass(t, env, student, class["id"].(string))

	m := cptest.WaitEmail(t, student.Email, "Booked: "+title)
	if want := starts.In(tokyo).Format("Mon 2 Jan 2006 15:04 MST") + " (Asia/Tokyo)"; !strings.Contains(m.Text, want) {
		t.Fatalf("booking email does not show %q:\n%s", want, m.Text)
	}
	method, evs := parseICS(t, icsOf(t, m))
	if method != "REQUEST" || len(evs) != 1 {
		t.Fatalf("invite: method %q, %d events", method, len(evs))
	}
	at := startOf(t, evs[0])
	end, err := evs[0].GetEndAt()
	if err != nil {
		t.Fatal(err)
	}
	if !at.Equal(starts) || at.Location().String() != "America/New_York" || end.Sub(at) != 90*time.Minute {
		t.Fatalf("invite starts %v (%s), ends %v; want %v in America/New_York, 90 minutes", at, at.Location(), end, starts.In(ny))
	}
	uid := evs[0].Id()
	if !strings.Contains(uid, bookingID) {
		t.Fatalf("invite UID %q is not the booking's", uid)
	}

	// The feed: made, listed, parsed; the teacher's feed lists the class they teach.
	var feed struct {
		URL string `json:"url"`
	}
	env.Do(t, "POST", "/api/v1/me/calendar-feed", student.Token, nil).Want(t, http.StatusCreated).JSON(t, &feed)
	path := feedPath(t, feed.URL)
	res := env.Do(t, "GET", path, "", nil).Want(t, http.StatusOK)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/calendar") {
		t.Fatalf("feed content type %q", ct)
	}
	method, evs = parseICS(t, res.Body)
	if method != "" || len(evs) != 1 || evs[0].Id() != uid || !startOf(t, evs[0]).Equal(starts) ||
		startOf(t, evs[0]).Location().String() != "America/New_York" {
		t.Fatalf("student feed: method %q, %d events: %s", method, len(evs), res.Body)
	}
	var tfeed struct {
		URL string `json:"url"`
	}
	env.Do(t, "POST", "/api/v1/me/calendar-feed", teacher.Token, nil).Want(t, http.StatusCreated).JSON(t, &tfeed)
	if _, tevs := parseICS(t, env.Do(t, "GET", feedPath(t, tfeed.URL), "", nil).Want(t, http.StatusOK).Body); len(tevs) != 1 ||
		!strings.Contains(tevs[0].Id(), class["id"].(string)) {
		t.Fatalf("teacher feed has %d events", len(tevs))
	}

	// A new URL replaces the old one; revoking ends it.
	var again struct {
		URL string `json:"url"`
	}
	env.Do(t, "POST", "/api/v1/me/calendar-feed", student.Token, nil).Want(t, http.StatusCreated).JSON(t, &again)
	env.Do(t, "GET", path, "", nil).WantError(t, http.StatusNotFound, "not_found")
	env.Do(t, "GET", feedPath(t, again.URL), "", nil).Want(t, http.StatusOK)
	env.Do(t, "DELETE", "/api/v1/me/calendar-feed", student.Token, nil).Want(t, http.StatusNoContent)
	env.Do(t, "GET", feedPath(t, again.URL), "", nil).WantError(t, http.StatusNotFound, "not_found")
	var state map[string]any
	env.Do(t, "GET", "/api/v1/me/calendar-feed", student.Token, nil).Want(t, http.StatusOK).JSON(t, &state)
	if state["active"] != false {
		t.Fatalf("feed state after revoking = %v", state)
	}

	// Cancelling sends the calendar cancellation of the same event.
	env.Do(t, "DELETE", "/api/v1/bookings/"+bookingID, student.Token, nil).Want(t, http.StatusOK)
	m = cptest.WaitEmail(t, student.Email, "Cancelled: "+title)
	raw := icsOf(t, m)
	method, evs = parseICS(t, raw)
	if method != "CANCEL" || len(evs) != 1 || evs[0].Id() != uid || !strings.Contains(string(raw), "SEQUENCE:1") ||
		!strings.Contains(string(raw), "STATUS:CANCELLED") || !startOf(t, evs[0]).Equal(starts) {
		t.Fatalf("cancellation: method %q, %d events:\n%s", method, len(evs), raw)
	}
}

// feedPath turns a feed URL (on the public URL) into this server's path.
func feedPath(t *testing.T, u string) string {
	t.Helper()
	i := strings.Index(u, "/api/v1/calendar/")
	if i < 0 || !strings.HasSuffix(u, ".ics") {
		t.Fatalf("feed URL %q", u)
	}
	return u[i:]
}
