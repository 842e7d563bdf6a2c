package calendar

import "time"

// FormatIn formats t for a person in time zone tz, naming the zone, e.g.
// "Mon 7 Dec 2026 16:00 CET (Europe/Paris)". An empty or unknown zone shows UTC, named.
func FormatIn(t time.Time, tz string) string {
	loc, err := time.LoadLocation(tz)
	if tz == "" || tz == "Local" || err != nil {
		loc, tz = time.UTC, "UTC"
	}
	s := t.In(loc).Format("Mon 2 Jan 2006 15:04 MST")
	if tz == "UTC" {
		return s
	}
	return s + " (" + tz + ")"
}
