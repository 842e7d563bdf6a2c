package lifecycle

import (
	"testing"
	"time"
)

var (
	t0     = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC) // the scheduled start
	policy = Policy{JoinEarly: 15 * time.Minute, RejoinGrace: 10 * time.Minute, NoShowAfter: 15 * time.Minute,
		MinTeaching: 5 * time.Minute, EarlyEndPercent: 50, SettleAfter: time.Hour}
)

const teacher, student = "T", "S"

func at(m float64) time.Time     { return t0.Add(time.Duration(m * float64(time.Minute))) }
func ptr(t time.Time) *time.Time { return &t }

// open as the end of a session means no leave was reported.
const open = -1e6

// sess is a session of user in room sid from minute a to minute b (or still open).
func sess(user, sid string, a, b float64) Session {
	s := Session{UserID: user, RoomSID: sid, Joined: at(a)}
	if b != open {
		s.Left = ptr(at(b))
	}
	return s
}

// class is a 60-minute class starting at t0 with the given sessions.
func class(ss ...Session) Class {
	return Class{Start: t0, End: at(60), TeacherID: teacher, Sessions: ss}
}

func TestDecide(t *testing.T) {
	showed := class(sess(teacher, "RM_A", -2, open))
	showed.TeacherShowed = true
	ended := func(c Class, m float64) Class { c.EndedAt = ptr(at(m)); return c }
	cancelled := class()
	cancelled.Cancelled = true
	settled := class()
	settled.Outcome = OutcomeCompleted

	cases := []struct {
		name     string
		c        Class
		now      float64 // minutes from the start
		state    State
		joinable bool
		action   Action
		outcome  string
		taught   time.Duration
	}{
		// Time alone moves a class through its states.
		{name: "scheduled before joining opens", c: class(), now: -16, state: Scheduled},
		{name: "open from join_early before the start", c: class(), now: -15, state: Open, joinable: true},
		{name: "live at the start", c: class(), now: 0, state: Live, joinable: true},
		{name: "live before the no-show deadline without the teacher", c: class(), now: 14, state: Live, joinable: true},
		{name: "overtime after the scheduled end", c: showed, now: 60, state: Overtime, joinable: true},
		{name: "ended when the grace is over", c: showed, now: 70, state: Ended},
		{name: "ended but not yet settled", c: showed, now: 129, state: Ended},
		{name: "cancelled stays cancelled", c: cancelled, now: 30, state: Cancelled},
		{name: "settled stays settled", c: settled, now: 500, state: Settled},

		// The no-show deadline.
		{name: "teacher never came: refund at the deadline", c: class(sess(student, "RM_A", 1, open)), now: 15,
			state: Live, joinable: true, action: Refund, outcome: OutcomeNoShow},
		{name: "teacher in the room at the deadline", c: class(sess(teacher, "RM_A", -3, open)), now: 15,
			state: Live, joinable: true, action: MarkShowed},
		{name: "teacher left and is away at the deadline, but was there after the start",
			c: class(sess(teacher, "RM_A", -3, 4)), now: 16, state: Live, joinable: true, action: MarkShowed},
		{name: "teacher came 5 minutes early and left after 30 s: a no-show",
			c: class(sess(teacher, "RM_A", -5, -4.5), sess(student, "RM_A", -1, open)), now: 15,
			state: Live, joinable: true, action: Refund, outcome: OutcomeNoShow},
		{name: "teacher arrived after the deadline: still a no-show", c: class(sess(teacher, "RM_A", 16, open)), now: 16,
			state: Live, joinable: true, action: Refund, outcome: OutcomeNoShow},
		{name: "deadline already passed once", c: showed, now: 30, state: Live, joinable: true},

		// A room that empties is not the end: the teacher leaves and comes back.
		{name: "teacher away mid-class: nothing happens", c: withShowed(class(sess(teacher, "RM_A", 0, 10))), now: 30,
			state: Live, joinable: true},
		{name: "teacher left and rejoined: completed after the window",
			c: withShowed(class(sess(teacher, "RM_A", 0, 10), sess(teacher, "RM_B", 25, 60))), now: 130,
			state: Ended, action: Settle, outcome: OutcomeCompleted, taught: 45 * time.Minute},

		// Settlement judges the whole window.
		{name: "taught the whole class", c: withShowed(class(sess(teacher, "RM_A", -5, 65))), now: 130,
			state: Ended, action: Settle, outcome: OutcomeCompleted, taught: 60 * time.Minute},
		{name: "30 seconds after the start, then gone: below the minimum",
			c: withShowed(class(sess(teacher, "RM_A", -1, 0.5))), now: 130,
			state: Ended, action: Settle, outcome: OutcomeNoShow, taught: 30 * time.Second},
		{name: "taught 20 of 60 minutes: early end", c: withShowed(class(sess(teacher, "RM_A", 0, 20))), now: 130,
			state: Ended, action: Settle, outcome: OutcomeEarlyEnd, taught: 20 * time.Minute},
		{name: "no-show found at settlement when no sweep ran at the deadline", c: class(sess(student, "RM_A", 0, 60)),
			now: 130, state: Ended, action: Settle, outcome: OutcomeNoShow},

		// Explicit End.
		{name: "End closes the window at once", c: withShowed(ended(class(sess(teacher, "RM_A", 0, 40)), 40)), now: 41,
			state: Ended},
		{name: "End at 40 of 60 minutes taught: completed", c: withShowed(ended(class(sess(teacher, "RM_A", 0, 40)), 40)),
			now: 100, state: Ended, action: Settle, outcome: OutcomeCompleted, taught: 40 * time.Minute},
		{name: "End at 20 minutes: early end", c: withShowed(ended(class(sess(teacher, "RM_A", 0, 21)), 20)),
			now: 80, state: Ended, action: Settle, outcome: OutcomeEarlyEnd, taught: 20 * time.Minute},
		{name: "End after the scheduled end keeps the grace short", c: withShowed(ended(class(sess(teacher, "RM_A", 0, 62)), 62)),
			now: 63, state: Ended},

		// A node killed mid-class: the teacher's session never closes.
		{name: "node killed: nothing until settlement",
			c: withShowed(class(sess(teacher, "RM_A", 0, open), sess(student, "RM_A", 1, 30))), now: 69,
			state: Overtime, joinable: true},
		{name: "node killed at ~30 min, last event at 30: early end for 30 of 60",
			c:   withShowed(class(sess(teacher, "RM_A", 0, open), sess(student, "RM_A", 1, 29), sess(student, "RM_A", 29.5, open))),
			now: 130, state: Ended, action: Settle, outcome: OutcomeEarlyEnd, taught: 29*time.Minute + 30*time.Second},
		{name: "node killed with no later event from it: nothing counted",
			c:   withShowed(class(sess(teacher, "RM_A", 0, open), sess(student, "RM_A", 0.5, open))),
			now: 130, state: Ended, action: Settle, outcome: OutcomeNoShow, taught: 30 * time.Second},
		{name: "events from the next node do not keep a dead node's session alive",
			c:   withShowed(class(sess(teacher, "RM_A", 0, open), sess(student, "RM_A", 2, open), sess(student, "RM_B", 3, 60))),
			now: 130, state: Ended, action: Settle, outcome: OutcomeNoShow, taught: 2 * time.Minute},
		{name: "node killed, everyone reconnects to another node: completed",
			c:   withShowed(class(sess(teacher, "RM_A", 0, open), sess(teacher, "RM_B", 20.5, 60))),
			now: 130, state: Ended, action: Settle, outcome: OutcomeCompleted, taught: 60 * time.Minute},
	}
	for _, tc := range cases {
		d := Decide(tc.c, policy, at(tc.now))
		if d.State != tc.state || d.Joinable != tc.joinable || d.Action != tc.action || d.Outcome != tc.outcome {
			t.Errorf("%s: Decide = state %s joinable %v action %q outcome %q, want %s %v %q %q (%s)", tc.name,
				d.State, d.Joinable, d.Action, d.Outcome, tc.state, tc.joinable, tc.action, tc.outcome, d.Reason)
		}
		if tc.taught != 0 && d.Taught != tc.taught {
			t.Errorf("%s: taught %s, want %s", tc.name, d.Taught, tc.taught)
		}
		if d.Action == Refund || d.Action == Settle {
			if d.Reason == "" && d.Outcome != OutcomeCompleted {
				t.Errorf("%s: no reason for %s", tc.name, d.Outcome)
			}
			wantMissing := time.Duration(0)
			switch d.Outcome {
			case OutcomeNoShow:
				wantMissing = d.Scheduled
			case OutcomeEarlyEnd:
				wantMissing = d.Scheduled - d.Taught
			}
			if d.Missing != wantMissing {
				t.Errorf("%s: missing %s, want %s", tc.name, d.Missing, wantMissing)
			}
		}
	}
}

func withShowed(c Class) Class { c.TeacherShowed = true; return c }

func TestDecideWindow(t *testing.T) {
	c := class()
	d := Decide(c, policy, at(0))
	if !d.OpensAt.Equal(at(-15)) || !d.ClosesAt.Equal(at(70)) || !d.SettlesAt.Equal(at(130)) {
		t.Errorf("window = %s..%s settles %s, want -15..70 settles 130", d.OpensAt, d.ClosesAt, d.SettlesAt)
	}
	c.EndedAt = ptr(at(25))
	d = Decide(c, policy, at(26))
	if !d.ClosesAt.Equal(at(25)) || !d.SettlesAt.Equal(at(85)) {
		t.Errorf("ended window closes %s settles %s, want 25 and 85", d.ClosesAt, d.SettlesAt)
	}
}

func TestEndPreview(t *testing.T) {
	cases := []struct {
		name    string
		c       Class
		now     float64
		outcome string
		taught  time.Duration
	}{
		{"teacher in the room since the start, 40 minutes in", class(sess(teacher, "RM_A", -2, open)), 40, OutcomeCompleted, 40 * time.Minute},
		{"teacher in the room, 20 minutes in", class(sess(teacher, "RM_A", 0, open)), 20, OutcomeEarlyEnd, 20 * time.Minute},
		{"teacher there 2 minutes", class(sess(teacher, "RM_A", 0, 2)), 30, OutcomeNoShow, 2 * time.Minute},
		{"teacher never there", class(sess(student, "RM_A", 0, open)), 30, OutcomeNoShow, 0},
	}
	for _, tc := range cases {
		d := EndPreview(tc.c, policy, at(tc.now))
		if d.Action != Settle || d.Outcome != tc.outcome || d.Taught != tc.taught || !d.ClosesAt.Equal(at(tc.now)) {
			t.Errorf("%s: EndPreview = %s %s taught %s closes %s, want %s taught %s", tc.name, d.Action, d.Outcome,
				d.Taught, d.ClosesAt, tc.outcome, tc.taught)
		}
	}
}

func TestPresence(t *testing.T) {
	cases := []struct {
		name      string
		ss        []Session
		from, to  float64
		openUntil *time.Time
		want      time.Duration
	}{
		{"overlapping sessions (two tabs) count once", []Session{sess(teacher, "A", 0, 30), sess(teacher, "A", 10, 40)}, 0, 60, nil, 40 * time.Minute},
		{"clipped to the window", []Session{sess(teacher, "A", -10, 70)}, 0, 60, nil, 60 * time.Minute},
		{"gaps are not counted", []Session{sess(teacher, "A", 0, 10), sess(teacher, "A", 20, 30)}, 0, 60, nil, 20 * time.Minute},
		{"open session counts until openUntil", []Session{sess(teacher, "A", 5, open)}, 0, 60, ptr(at(25)), 20 * time.Minute},
		{"open session cut at the next join", []Session{sess(teacher, "A", 0, open), sess(teacher, "B", 12, 20)}, 0, 60, ptr(at(50)), 20 * time.Minute},
		{"other users ignored", []Session{sess(student, "A", 0, 60)}, 0, 60, nil, 0},
		{"a leave before its join counts nothing", []Session{{UserID: teacher, RoomSID: "A", Joined: at(10), Left: ptr(at(5))}}, 0, 60, nil, 0},
	}
	for _, tc := range cases {
		if got := Presence(tc.ss, teacher, at(tc.from), at(tc.to), tc.openUntil); got != tc.want {
			t.Errorf("%s: Presence = %s, want %s", tc.name, got, tc.want)
		}
	}
}

// MayBeDue must never hide an action Decide would take.
func TestMayBeDueCoversDecide(t *testing.T) {
	shapes := []Class{
		class(), class(sess(teacher, "A", -2, open)), withShowed(class(sess(teacher, "A", 0, 60))),
		withShowed(class(sess(teacher, "A", 0, 20))), class(sess(teacher, "A", -5, -4.5)),
	}
	ended := withShowed(class(sess(teacher, "A", 0, 30)))
	ended.EndedAt = ptr(at(30))
	shapes = append(shapes, ended)
	for i, c := range shapes {
		for m := -30.0; m <= 200; m += 0.5 {
			d := Decide(c, policy, at(m))
			if d.Action != None && !MayBeDue(c, policy, at(m)) {
				t.Fatalf("shape %d at %.1f min: Decide wants %s but MayBeDue says nothing is due", i, m, d.Action)
			}
		}
	}
}
