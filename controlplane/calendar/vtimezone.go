package calendar

import (
	"fmt"
	"time"
)

// Transition is a change of a zone's UTC offset.
type Transition struct {
	At         time.Time // the instant of the change (UTC)
	FromOffset int       // seconds east of UTC before
	ToOffset   int       // after
	Abbrev     string    // abbreviation after (CET, CEST)
	DST        bool      // daylight saving time after
}

// Transitions returns the offset changes of loc in [from, to), found by stepping a day at a
// time and bisecting to the second (Go does not expose its zone tables).
func Transitions(loc *time.Location, from, to time.Time) []Transition {
	var out []Transition
	const step = 24 * time.Hour
	_, prev := from.In(loc).Zone()
	for t := from; t.Before(to); t = t.Add(step) {
		next := t.Add(step)
		_, off := next.In(loc).Zone()
		if off == prev {
			continue
		}
		lo, hi := t, next // offset(lo) == prev, offset(hi) != prev
		for hi.Sub(lo) > time.Second {
			mid := lo.Add(hi.Sub(lo) / 2).Truncate(time.Second)
			if _, o := mid.In(loc).Zone(); o == prev {
				lo = mid
			} else {
				hi = mid
			}
		}
		abbr, o := hi.In(loc).Zone()
		out = append(out, Transition{At: hi.UTC(), FromOffset: prev, ToOffset: o, Abbrev: abbr, DST: hi.In(loc).IsDST()})
		prev = off
	}
	return out
}

// vtimezone writes a VTIMEZONE for name covering a year either side of the times: one
// observance for the offset in force at the window's start, then one per transition, each
// with its DTSTART in local time before the change (RFC 5545 §3.6.5).
func vtimezone(w *writer, name string, times []time.Time) error {
	loc, err := time.LoadLocation(name)
	if err != nil {
		return fmt.Errorf("calendar: time zone %q: %w", name, err)
	}
	first, last := times[0], times[0]
	for _, t := range times {
		if t.Before(first) {
			first = t
		}
		if t.After(last) {
			last = t
		}
	}
	from := first.AddDate(-1, 0, 0).UTC().Truncate(24 * time.Hour)
	to := last.AddDate(1, 0, 0)
	w.line("BEGIN:VTIMEZONE")
	w.line("TZID:" + name)
	abbr, off := from.In(loc).Zone()
	observance(w, from.In(loc).IsDST(), from.Add(time.Duration(off)*time.Second), off, off, abbr)
	for _, tr := range Transitions(loc, from, to) {
		observance(w, tr.DST, tr.At.Add(time.Duration(tr.FromOffset)*time.Second), tr.FromOffset, tr.ToOffset, tr.Abbrev)
	}
	w.line("END:VTIMEZONE")
	return nil
}

func observance(w *writer, dst bool, localStart time.Time, from, to int, abbr string) {
	kind := "STANDARD"
	if dst {
		kind = "DAYLIGHT"
	}
	w.line("BEGIN:" + kind)
	w.line("DTSTART:" + localStart.UTC().Format(localLayout))
	w.line("TZOFFSETFROM:" + utcOffset(from))
	w.line("TZOFFSETTO:" + utcOffset(to))
	if abbr != "" {
		w.line("TZNAME:" + escape(abbr))
	}
	w.line("END:" + kind)
}

// utcOffset formats seconds east of UTC as ±HHMM or ±HHMMSS (RFC 5545 §3.3.14).
func utcOffset(sec int) string {
	sign := "+"
	if sec < 0 {
		sign, sec = "-", -sec
	}
	h, m, s := sec/3600, sec%3600/60, sec%60
	if s != 0 {
		return fmt.Sprintf("%s%02d%02d%02d", sign, h, m, s)
	}
	return fmt.Sprintf("%s%02d%02d", sign, h, m)
}
