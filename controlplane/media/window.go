package media

import (
	"time"

	"github.com/atrium-live/atrium/controlplane/store"
)

// JoinWindow is when a class's room admits its teacher and booked students. The UI shows
// join buttons from it (and counts down to From) instead of guessing from the schedule, and
// Join enforces the same window, so a button never leads to a refusal.
type JoinWindow struct {
	From  time.Time
	Until time.Time
	// Never is true when the room will not open at all (a cancelled class); From and Until
	// are then zero.
	Never bool
}

// Open reports whether joining is possible at now.
func (w JoinWindow) Open(now time.Time) bool {
	return !w.Never && !now.Before(w.From) && now.Before(w.Until)
}

// OpensIn is how long until the window opens (zero once it is open or over, or if it
// never opens).
func (w JoinWindow) OpensIn(now time.Time) time.Duration {
	if w.Never || !now.Before(w.From) {
		return 0
	}
	return w.From.Sub(now)
}

// Window is the join window of a class that starts at startsAt, lasts minutes and has the
// given status, with joining open early before the start. It is a pure function so the
// class page, the booking list and Join agree.
func Window(startsAt time.Time, minutes int, status string, early time.Duration) JoinWindow {
	if status == store.ClassCancelled {
		return JoinWindow{Never: true}
	}
	return JoinWindow{From: startsAt.Add(-early), Until: startsAt.Add(time.Duration(minutes) * time.Minute)}
}

// Window is the join window of a class under this service's lifecycle policy: from
// Lifecycle.JoinEarly before the start to the scheduled end plus Lifecycle.RejoinGrace (what
// lifecycle.Decide allows, but for an explicit End or a settled no-show, which /join refuses
// with class_ended).
func (s *Service) Window(startsAt time.Time, minutes int, status string) JoinWindow {
	w := Window(startsAt, minutes, status, s.cfg.Lifecycle.JoinEarly)
	if !w.Never {
		w.Until = w.Until.Add(s.cfg.Lifecycle.RejoinGrace)
	}
	return w
}
