// Package calendar writes iCalendar (RFC 5545) documents: the invite attached to booking
// emails (iTIP METHOD:REQUEST, and METHOD:CANCEL when the booking or class is cancelled,
// RFC 5546) and the private feed of a user's classes. It is pure: no I/O, no clock.
//
// Times are written in the class's own time zone (DTSTART;TZID=Europe/Paris:...) with a
// VTIMEZONE built from Go's time zone database around the events, so a calendar shows the
// right local time even across a daylight-saving change; UTC classes use UTC ("Z") times.
package calendar

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Methods of an iTIP message (RFC 5546 §1.4). A feed has none.
const (
	MethodRequest = "REQUEST"
	MethodCancel  = "CANCEL"
)

// Person is an organizer or attendee.
type Person struct {
	Name  string
	Email string
}

// Event is one class occurrence.
type Event struct {
	// UID identifies the event for its whole life: the same for the invite, its update and
	// its cancellation (e.g. "booking-<id>@host"), so calendars replace instead of adding.
	UID string
	// Sequence grows with each revision; a cancellation must carry a higher one than the invite.
	Sequence int
	Start    time.Time
	End      time.Time
	// TimeZone is the IANA zone the event is written in; "" or "UTC" writes UTC times.
	TimeZone    string
	Summary     string
	Description string
	URL         string
	// Cancelled writes STATUS:CANCELLED (otherwise CONFIRMED).
	Cancelled bool
	Organizer *Person
	Attendee  *Person
}

// Calendar is a document: an iTIP message (Method set) or a feed (Method "").
type Calendar struct {
	Method string
	// Name is the feed's display name (X-WR-CALNAME); optional.
	Name string
	// Stamp is DTSTAMP: when the document was made (UTC).
	Stamp  time.Time
	Events []Event
}

// Bytes renders c with CRLF line ends and lines folded at 75 octets.
func (c Calendar) Bytes() ([]byte, error) {
	w := &writer{}
	w.line("BEGIN:VCALENDAR")
	w.line("VERSION:2.0")
	w.line("PRODID:-//Atrium//Classes//EN")
	w.line("CALSCALE:GREGORIAN")
	if c.Method != "" {
		w.line("METHOD:" + c.Method)
	}
	if c.Name != "" {
		w.line("X-WR-CALNAME:" + escape(c.Name))
		w.line("REFRESH-INTERVAL;VALUE=DURATION:PT1H")
		w.line("X-PUBLISHED-TTL:PT1H")
	}
	zones := map[string][]time.Time{}
	for _, e := range c.Events {
		if tz := zoneName(e.TimeZone); tz != "" {
			zones[tz] = append(zones[tz], e.Start, e.End)
		}
	}
	names := make([]string, 0, len(zones))
	for n := range zones {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if err := vtimezone(w, n, zones[n]); err != nil {
			return nil, err
		}
	}
	stamp := c.Stamp.UTC().Format(utcLayout)
	for _, e := range c.Events {
		if e.UID == "" || !e.End.After(e.Start) {
			return nil, fmt.Errorf("calendar: event %q needs a UID and an end after its start", e.UID)
		}
		w.line("BEGIN:VEVENT")
		w.line("UID:" + escape(e.UID))
		w.line("DTSTAMP:" + stamp)
		w.line(dateTime("DTSTART", e.Start, e.TimeZone))
		w.line(dateTime("DTEND", e.End, e.TimeZone))
		w.line(fmt.Sprintf("SEQUENCE:%d", e.Sequence))
		w.line("SUMMARY:" + escape(e.Summary))
		if e.Description != "" {
			w.line("DESCRIPTION:" + escape(e.Description))
		}
		if e.URL != "" {
			w.line("URL:" + e.URL)
		}
		if e.Cancelled {
			w.line("STATUS:CANCELLED")
		} else {
			w.line("STATUS:CONFIRMED")
		}
		if e.Organizer != nil {
			w.line("ORGANIZER;CN=" + param(e.Organizer.Name) + ":mailto:" + e.Organizer.Email)
		}
		if e.Attendee != nil {
			w.line("ATTENDEE;CN=" + param(e.Attendee.Name) + ";ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;RSVP=FALSE:mailto:" +
				e.Attendee.Email)
		}
		w.line("END:VEVENT")
	}
	w.line("END:VCALENDAR")
	return w.buf.Bytes(), nil
}

const (
	utcLayout   = "20060102T150405Z"
	localLayout = "20060102T150405"
)

// zoneName is the TZID to write for tz: "" for UTC (written with "Z").
func zoneName(tz string) string {
	if tz == "" || tz == "UTC" || tz == "Etc/UTC" {
		return ""
	}
	return tz
}

// dateTime writes a DATE-TIME property in tz (RFC 5545 §3.3.5 forms 2 and 3).
func dateTime(prop string, t time.Time, tz string) string {
	name := zoneName(tz)
	if name == "" {
		return prop + ":" + t.UTC().Format(utcLayout)
	}
	loc, err := time.LoadLocation(name)
	if err != nil { // validated at class creation; fall back to an unambiguous UTC time
		return prop + ":" + t.UTC().Format(utcLayout)
	}
	return prop + ";TZID=" + name + ":" + t.In(loc).Format(localLayout)
}

// escape escapes a TEXT value (RFC 5545 §3.3.11).
func escape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, ";", `\;`, ",", `\,`, "\r\n", `\n`, "\n", `\n`, "\r", `\n`)
	return r.Replace(s)
}

// param quotes a parameter value (RFC 5545 §3.2): DQUOTE is not allowed inside, so drop it.
func param(s string) string {
	s = strings.Map(func(r rune) rune {
		if r == '"' || r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	return `"` + s + `"`
}

type writer struct{ buf bytes.Buffer }

// line writes one content line folded at 75 octets, never inside a UTF-8 sequence (§3.1).
func (w *writer) line(s string) {
	first := true
	for len(s) > 0 {
		max := 75
		if !first {
			max = 74 // the leading space counts
			w.buf.WriteByte(' ')
		}
		if len(s) <= max {
			w.buf.WriteString(s)
			break
		}
		cut := max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		w.buf.WriteString(s[:cut])
		w.buf.WriteString("\r\n")
		s = s[cut:]
		first = false
	}
	w.buf.WriteString("\r\n")
}
