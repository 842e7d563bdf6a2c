// Package lifecycle decides where a live class stands (scheduled, open, live, overtime,
// ended, settled, cancelled), who may join, and what its money outcome is, from its
// schedule, the teacher's explicit End and the attendance the SFU reported. It is the state
// machine of docs/classes.md as pure functions: no I/O and no clock (now is an argument),
// so every transition is a table test. The callers (booking's sweep and webhooks, the join
// endpoint, the room closer) load the facts, call Decide, and carry out the decision.
//
// The rules, in short: a class runs from its start to its scheduled end or an explicit End;
// an empty room in between is not the end (people may come back until the scheduled end plus
// Policy.RejoinGrace). Money is decided once, Policy.SettleAfter after the window closed,
// from the teacher's presence over the whole window, except for the no-show refund, which
// happens as soon as its deadline passes without the teacher.
package lifecycle

import (
	"fmt"
	"slices"
	"time"
)

// Policy is the configurable part of the rules. The zero value is not useful; the control
// plane builds it from its config (livekit.join_early, livekit.rejoin_grace, money.*).
type Policy struct {
	// JoinEarly: joining opens this long before the start.
	JoinEarly time.Duration
	// RejoinGrace: joining stays open this long after the scheduled end (not after an End).
	RejoinGrace time.Duration
	// NoShowAfter: the teacher must have been in the room between the start and this long
	// after it, or every student is refunded in full.
	NoShowAfter time.Duration
	// MinTeaching: a teacher present for less than this within the window (or the whole
	// scheduled duration, if shorter) earns nothing; students are refunded in full.
	MinTeaching time.Duration
	// EarlyEndPercent: a teacher present for less than this share of the schedule earns only
	// the share taught; students get the rest back.
	EarlyEndPercent int
	// SettleAfter: settlement waits this long after the window closed, so the SFU's last
	// webhooks (leaves, room finished; it retries for minutes) are in.
	SettleAfter time.Duration
}

// Session is one participant connection to the class room, as the SFU reported it.
type Session struct {
	UserID string
	// RoomSID is the room incarnation (a room restarted or moved to another node gets a new
	// sid); empty for sessions recorded before it was stored.
	RoomSID string
	Joined  time.Time
	// Left is nil while no leave (or room finished) was reported.
	Left *time.Time
}

// Class is what Decide needs to know about a class.
type Class struct {
	Start, End time.Time // the schedule
	Cancelled  bool
	// Outcome is the money outcome already recorded ("" while none is).
	Outcome string
	// EndedAt is when the teacher or an admin ended the class for everyone (nil: not ended).
	EndedAt *time.Time
	// TeacherShowed records that an earlier decision found the teacher present by the
	// no-show deadline, so the deadline is not checked again.
	TeacherShowed bool
	TeacherID     string
	// Sessions are every participant's sessions (the teacher's are judged; everyone's events
	// show when each room incarnation was last seen alive).
	Sessions []Session
}

// State is where a class stands.
type State string

// The states of docs/classes.md.
const (
	Scheduled State = "scheduled" // before joining opens
	Open      State = "open"      // joinable, before the start
	Live      State = "live"      // between the start and the scheduled end
	Overtime  State = "overtime"  // after the scheduled end, within the rejoin grace
	Ended     State = "ended"     // the window closed (End or grace over); money pending
	Settled   State = "settled"   // the money outcome is recorded
	Cancelled State = "cancelled" // cancelled by the teacher or an admin
)

// Action is what the caller must do now.
type Action string

// Actions. At most one is due at a time.
const (
	// None: nothing to do.
	None Action = ""
	// MarkShowed: the no-show deadline passed with the teacher present; record it.
	MarkShowed Action = "mark_showed"
	// Refund: the teacher is a no-show; refund every student in full now (Outcome no_show).
	Refund Action = "refund"
	// Settle: decide the money now with Outcome (completed, early_end or no_show).
	Settle Action = "settle"
)

// Money outcomes, spelled as store.Outcome* (class_outcomes.outcome).
const (
	OutcomeCompleted = "completed"
	OutcomeEarlyEnd  = "early_end"
	OutcomeNoShow    = "no_show"
)

// Decision is Decide's answer.
type Decision struct {
	State State
	// Joinable: the class room admits participants now (bookings, bans and the lock are
	// checked by the caller).
	Joinable bool
	// OpensAt and ClosesAt bound the join window. ClosesAt is the end of the class for
	// everyone: the scheduled end plus the rejoin grace, or the explicit End.
	OpensAt, ClosesAt time.Time
	// SettlesAt is when money is decided (ClosesAt + SettleAfter).
	SettlesAt time.Time
	Action    Action
	// Outcome, Taught, Missing and Reason describe a Refund or Settle: the teacher's presence
	// within the window, the untaught share of the schedule that early_end refunds, and a
	// sentence for students.
	Outcome   string
	Taught    time.Duration
	Scheduled time.Duration
	Missing   time.Duration
	Reason    string
}

// Decide returns where c stands at now and what is due.
func Decide(c Class, p Policy, now time.Time) Decision {
	d := Decision{OpensAt: c.Start.Add(-p.JoinEarly), ClosesAt: closesAt(c, p), Scheduled: c.End.Sub(c.Start)}
	d.SettlesAt = d.ClosesAt.Add(p.SettleAfter)
	switch {
	case c.Cancelled:
		d.State = Cancelled
		return d
	case c.Outcome != "":
		d.State = Settled
		return d
	case !now.Before(d.ClosesAt):
		d.State = Ended
		if !now.Before(d.SettlesAt) {
			return settle(d, c, p, nil)
		}
	case now.Before(d.OpensAt):
		d.State = Scheduled
		return d
	case now.Before(c.Start):
		d.State, d.Joinable = Open, true
		return d
	case now.Before(c.End):
		d.State, d.Joinable = Live, true
	default:
		d.State, d.Joinable = Overtime, true
	}
	// The no-show deadline: checked once it passed, until the teacher is found present.
	deadline := c.Start.Add(p.NoShowAfter)
	if c.TeacherShowed || now.Before(deadline) {
		return d
	}
	end := earliest(deadline, d.ClosesAt, now)
	if presence(Resolve(c.Sessions, c.TeacherID, &now), c.Start, end) > 0 {
		d.Action = MarkShowed
		return d
	}
	d.Action, d.Outcome, d.Missing = Refund, OutcomeNoShow, d.Scheduled
	d.Reason = fmt.Sprintf("the teacher did not join within %s of the start", p.NoShowAfter)
	return d
}

// MayBeDue reports whether Decide could return an action for c at now, judging only the
// schedule, End and TeacherShowed (Sessions and Outcome may be unset). Callers use it to skip
// loading attendance on every webhook of a large class when nothing can be due.
func MayBeDue(c Class, p Policy, now time.Time) bool {
	if c.Cancelled || c.Outcome != "" {
		return false
	}
	if !c.TeacherShowed && !now.Before(c.Start.Add(p.NoShowAfter)) {
		return true
	}
	return !now.Before(closesAt(c, p).Add(p.SettleAfter))
}

// EndPreview is what ending c for everyone at now would decide: the outcome and the
// presence it is based on, counting the sessions still open as lasting until now. The End
// endpoint shows it before asking for confirmation and returns it after.
func EndPreview(c Class, p Policy, now time.Time) Decision {
	c.EndedAt = &now
	d := Decision{State: Ended, OpensAt: c.Start.Add(-p.JoinEarly), ClosesAt: closesAt(c, p), Scheduled: c.End.Sub(c.Start)}
	d.SettlesAt = d.ClosesAt.Add(p.SettleAfter)
	return settle(d, c, p, &now)
}

// closesAt is the end of the join window: the scheduled end plus grace, or an earlier End.
func closesAt(c Class, p Policy) time.Time {
	t := c.End.Add(p.RejoinGrace)
	if c.EndedAt != nil && c.EndedAt.Before(t) {
		t = *c.EndedAt
	}
	return t
}

// settle judges the teacher's presence over the window [start, min(scheduled end, End)]
// and fills in the money outcome. openUntil is as for Resolve.
func settle(d Decision, c Class, p Policy, openUntil *time.Time) Decision {
	d.Action = Settle
	if d.State == "" {
		d.State = Ended
	}
	windowEnd := c.End
	if c.EndedAt != nil && c.EndedAt.Before(windowEnd) {
		windowEnd = *c.EndedAt
	}
	teacher := Resolve(c.Sessions, c.TeacherID, openUntil)
	d.Taught = presence(teacher, c.Start, windowEnd)
	minimum := min(p.MinTeaching, d.Scheduled)
	switch {
	case presence(teacher, c.Start, earliest(c.Start.Add(p.NoShowAfter), windowEnd)) == 0:
		d.Outcome, d.Missing = OutcomeNoShow, d.Scheduled
		d.Reason = fmt.Sprintf("the teacher did not join within %s of the start", p.NoShowAfter)
	case d.Taught < minimum:
		d.Outcome, d.Missing = OutcomeNoShow, d.Scheduled
		d.Reason = fmt.Sprintf("the teacher was in the class for %s, less than the minimum of %s",
			roundDur(d.Taught), roundDur(minimum))
	case d.Taught*100 < d.Scheduled*time.Duration(p.EarlyEndPercent):
		d.Outcome, d.Missing = OutcomeEarlyEnd, d.Scheduled-d.Taught
		d.Reason = fmt.Sprintf("the class was taught for %d of its %d scheduled minutes",
			int(d.Taught.Minutes()), int(d.Scheduled.Minutes()))
	default:
		d.Outcome = OutcomeCompleted
	}
	return d
}

// Interval is a span of presence.
type Interval struct{ From, To time.Time }

// Resolve returns userID's sessions as intervals, deciding when each session that has no
// leave ended:
//   - at the same user's next join, if they joined again (a reconnect, often to another
//     node after a failure);
//   - else at openUntil, if it is given (the room is believed up: a live class);
//   - else at the last moment its room incarnation was seen alive: the latest join or leave
//     of anyone in the same room sid, never before its own join. The SFU sends each node's
//     webhooks in order, so a later event from the same room proves the node was up and
//     the session still open then; after that nothing is known, so nothing is counted
//     (a node that dies sends nothing).
//
// The result is sorted by start.
func Resolve(sessions []Session, userID string, openUntil *time.Time) []Interval {
	lastSeen := map[string]time.Time{}
	var mine []Session
	for _, s := range sessions {
		t := s.Joined
		if s.Left != nil && s.Left.After(t) {
			t = *s.Left
		}
		if t.After(lastSeen[s.RoomSID]) {
			lastSeen[s.RoomSID] = t
		}
		if s.UserID == userID {
			mine = append(mine, s)
		}
	}
	slices.SortFunc(mine, func(a, b Session) int { return a.Joined.Compare(b.Joined) })
	out := make([]Interval, 0, len(mine))
	for i, s := range mine {
		var to time.Time
		switch {
		case s.Left != nil:
			to = *s.Left
		case i+1 < len(mine):
			to = mine[i+1].Joined
		case openUntil != nil:
			to = *openUntil
		default:
			to = lastSeen[s.RoomSID]
		}
		if to.Before(s.Joined) {
			to = s.Joined
		}
		out = append(out, Interval{From: s.Joined, To: to})
	}
	return out
}

// presence is the length of the union of ivs clipped to [from, to]. ivs must be sorted by
// From (Resolve's order).
func presence(ivs []Interval, from, to time.Time) time.Duration {
	var total time.Duration
	var cur Interval
	open := false
	for _, iv := range ivs {
		a, b := latest(iv.From, from), earliest(iv.To, to)
		if !a.Before(b) {
			continue
		}
		switch {
		case !open:
			cur, open = Interval{a, b}, true
		case a.After(cur.To):
			total += cur.To.Sub(cur.From)
			cur = Interval{a, b}
		case b.After(cur.To):
			cur.To = b
		}
	}
	if open {
		total += cur.To.Sub(cur.From)
	}
	return total
}

// Presence is userID's time in the class room between from and to (overlapping sessions
// counted once), with open sessions resolved as Resolve does.
func Presence(sessions []Session, userID string, from, to time.Time, openUntil *time.Time) time.Duration {
	return presence(Resolve(sessions, userID, openUntil), from, to)
}

func roundDur(d time.Duration) time.Duration { return d.Round(time.Second) }

func earliest(t time.Time, ts ...time.Time) time.Time {
	for _, u := range ts {
		if u.Before(t) {
			t = u
		}
	}
	return t
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
