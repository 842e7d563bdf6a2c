package calendar

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	ics "github.com/arran4/golang-ical"
)

func zone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func TestFormatIn(t *testing.T) {
	at := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct{ tz, want string }{
		{"Europe/Paris", "Mon 7 Dec 2026 16:00 CET (Europe/Paris)"},
		{"America/New_York", "Mon 7 Dec 2026 10:00 EST (America/New_York)"},
		{"Asia/Kolkata", "Mon 7 Dec 2026 20:30 IST (Asia/Kolkata)"},
		{"UTC", "Mon 7 Dec 2026 15:00 UTC"},
		{"", "Mon 7 Dec 2026 15:00 UTC"},
		{"Not/AZone", "Mon 7 Dec 2026 15:00 UTC"},
	} {
		if got := FormatIn(at, tc.tz); got != tc.want {
			t.Errorf("FormatIn(%v, %q) = %q, want %q", at, tc.tz, got, tc.want)
		}
	}
}

func TestUTCOffset(t *testing.T) {
	for _, tc := range []struct {
		sec  int
		want string
	}{{3600, "+0100"}, {-18000, "-0500"}, {19800, "+0530"}, {0, "+0000"}, {-(3600 + 1800 + 7), "-013007"}} {
		if got := utcOffset(tc.sec); got != tc.want {
			t.Errorf("utcOffset(%d) = %q, want %q", tc.sec, got, tc.want)
		}
	}
}

func TestTransitions(t *testing.T) {
	paris := zone(t, "Europe/Paris")
	got := Transitions(paris, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	want := []Transition{
		{At: time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), FromOffset: 3600, ToOffset: 7200, Abbrev: "CEST", DST: true},
		{At: time.Date(2026, 10, 25, 1, 0, 0, 0, time.UTC), FromOffset: 7200, ToOffset: 3600, Abbrev: "CET", DST: false},
	}
	if len(got) != len(want) {
		t.Fatalf("Transitions(Paris, 2026) = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].At.Equal(want[i].At) || got[i].FromOffset != want[i].FromOffset || got[i].ToOffset != want[i].ToOffset ||
			got[i].Abbrev != want[i].Abbrev || got[i].DST != want[i].DST {
			t.Errorf("Transitions(Paris, 2026)[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
	if tr := Transitions(zone(t, "Asia/Tokyo"), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)); len(tr) != 0 {
		t.Errorf("Transitions(Tokyo) = %+v, want none", tr)
	}
}

// Lines are folded at 75 octets without splitting a UTF-8 sequence, and text is escaped.
func TestFoldingAndEscaping(t *testing.T) {
	title := strings.Repeat("Ünïcødé, grammar; and \\ more\n", 6)
	start := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	raw, err := Calendar{Method: MethodRequest, Stamp: start, Events: []Event{{UID: "u1@x", Start: start,
		End: start.Add(time.Hour), Summary: title}}}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\r\n"), "\r\n") {
		if len(line) > 75 {
			t.Errorf("line of %d octets: %q", len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("folding split a UTF-8 sequence: %q", line)
		}
	}
	cal, err := ics.ParseCalendar(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("ParseCalendar: %v", err)
	}
	if got := cal.Events()[0].GetProperty(ics.ComponentPropertySummary).Value; got != title {
		t.Errorf("summary after a round trip = %q, want %q", got, title)
	}
}

// An invite in a zone with daylight saving parses (with a Go iCal parser) to the class's
// instant in that zone, its cancellation has the same UID and a higher SEQUENCE, and the
// VTIMEZONE covers the change of offset between two classes of a feed.
func TestInviteParsesInItsZone(t *testing.T) {
	ny := zone(t, "America/New_York")
	summer := time.Date(2026, 7, 1, 14, 0, 0, 0, ny)
	winter := time.Date(2026, 12, 1, 9, 30, 0, 0, ny)
	ev := Event{UID: "booking-1@atrium.test", Start: summer, End: summer.Add(90 * time.Minute), TimeZone: "America/New_York",
		Summary: "Spanish", Organizer: &Person{Name: "Atrium", Email: "no-reply@atrium.test"},
		Attendee: &Person{Name: `Ann "A" Lee`, Email: "ann@atrium.test"}}
	for _, method := range []string{MethodRequest, MethodCancel} {
		e := ev
		if method == MethodCancel {
			e.Sequence, e.Cancelled = 1, true
		}
		raw, err := Calendar{Method: method, Stamp: summer, Events: []Event{e, {UID: "x@y", Start: winter,
			End: winter.Add(time.Hour), TimeZone: "America/New_York", Summary: "Later"}}}.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		cal, err := ics.ParseCalendar(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("ParseCalendar: %v\n%s", err, raw)
		}
		gotMethod := ""
		for _, p := range cal.CalendarProperties {
			if p.IANAToken == "METHOD" {
				gotMethod = p.Value
			}
		}
		if gotMethod != method {
			t.Errorf("METHOD = %q, want %s", gotMethod, method)
		}
		evs := cal.Events()
		if len(evs) != 2 {
			t.Fatalf("%d events, want 2", len(evs))
		}
		for i, want := range []time.Time{summer, winter} {
			start, err := evs[i].GetStartAt()
			if err != nil {
				t.Fatal(err)
			}
			if !start.Equal(want) || start.Location().String() != "America/New_York" {
				t.Errorf("%s event %d starts %v in %s, want %v in America/New_York", method, i, start, start.Location(), want)
			}
		}
		p := evs[0].GetProperty(ics.ComponentPropertySequence)
		if evs[0].Id() != "booking-1@atrium.test" || p == nil || (method == MethodCancel) != (p.Value == "1") {
			t.Errorf("%s: uid %q sequence %+v", method, evs[0].Id(), p)
		}
		s := string(raw)
		for _, want := range []string{"BEGIN:VTIMEZONE\r\nTZID:America/New_York", "TZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nTZNAME:EDT",
			"TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST", "DTSTART;TZID=America/New_York:20260701T140000",
			"ATTENDEE;CN=\"Ann A Lee\""} {
			if !strings.Contains(s, want) {
				t.Errorf("%s invite lacks %q:\n%s", method, want, s)
			}
		}
		if method == MethodCancel && !strings.Contains(s, "STATUS:CANCELLED") {
			t.Errorf("cancellation lacks STATUS:CANCELLED")
		}
	}
}

// UTC classes are written with "Z" times and no VTIMEZONE.
func TestUTCEvent(t *testing.T) {
	start := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	raw, err := Calendar{Name: "Feed", Stamp: start, Events: []Event{{UID: "a@b", Start: start, End: start.Add(time.Hour), TimeZone: "UTC", Summary: "x"}}}.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	if !strings.Contains(s, "DTSTART:20261207T150000Z\r\n") || strings.Contains(s, "VTIMEZONE") || strings.Contains(s, "METHOD") {
		t.Errorf("UTC feed:\n%s", s)
	}
	if _, err := (Calendar{Events: []Event{{UID: "", Start: start, End: start}}}).Bytes(); err == nil {
		t.Error("an event without UID and with no duration was written")
	}
}
