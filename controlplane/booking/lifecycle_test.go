package booking_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/store"
)

// The class lifecycle with real PostgreSQL (docs/classes.md): the webhooks are what the SFU
// sends (signed, with room sids), the clock is the test's, the sweep is the River job's code.

// settleAfterWindow moves the clock to when a class of the given length starting at starts
// settles (scheduled end + rejoin grace + settle_after) and runs the sweep.
func (w *world) settleAfterWindow(t *testing.T, starts time.Time, length time.Duration, users ...*cptest.User) {
	t.Helper()
	at := starts.Add(length + w.env.Config.LiveKit.RejoinGrace + w.env.Config.Money.SettleAfter)
	if d := at.Sub(w.env.Clock.Now()); d > 0 {
		w.advance(t, d, users...)
	}
	w.sweep(t)
}

// sweep runs one booking.sweep pass (it sees every class in the package's database).
func (w *world) sweep(t *testing.T) {
	t.Helper()
	if _, err := w.env.Server.Money.Booking.Sweep(context.Background()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

// room is one incarnation of a class room on one SFU node.
type room struct {
	w       *world
	classID string
	sid     string
}

func (w *world) room(classID, sid string) *room { return &room{w: w, classID: classID, sid: sid} }

// send delivers a participant event from this room at at, moving the clock there first if
// it is behind (the control plane refuses events dated in its future).
func (r *room) send(t *testing.T, event string, u *cptest.User, psid string, at time.Time) {
	t.Helper()
	if d := at.Sub(r.w.env.Clock.Now()); d > 0 {
		r.w.env.Clock.Advance(d)
	}
	ev := cptest.ParticipantEvent(fmt.Sprintf("EV_%s_%s_%s_%d", r.sid, psid, event, at.UnixMilli()), event, r.classID, u.ID, psid, at)
	ev.Room.Sid = r.sid
	r.w.env.SendWebhook(t, ev).Want(t, http.StatusOK)
}

func (r *room) join(t *testing.T, u *cptest.User, psid string, at time.Time) {
	t.Helper()
	r.send(t, webhook.EventParticipantJoined, u, psid, at)
}

func (r *room) leave(t *testing.T, u *cptest.User, psid string, at time.Time) {
	t.Helper()
	r.send(t, webhook.EventParticipantLeft, u, psid, at)
}

func (r *room) finish(t *testing.T, at time.Time) {
	t.Helper()
	if d := at.Sub(r.w.env.Clock.Now()); d > 0 {
		r.w.env.Clock.Advance(d)
	}
	ev := cptest.RoomEvent("EV_fin_"+r.sid+"_"+cptest.RandomHex(3), webhook.EventRoomFinished, r.classID, at)
	ev.Room = &livekit.Room{Name: r.classID, Sid: r.sid}
	r.w.env.SendWebhook(t, ev).Want(t, http.StatusOK)
}

func (w *world) earnings(t *testing.T) int64 {
	t.Helper()
	b, err := ledger.Balance(context.Background(), w.env.Server.Store, ledger.EarningsOf(w.teacher.ID))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) escrow(t *testing.T, classID string) int64 {
	t.Helper()
	b, err := ledger.Balance(context.Background(), w.env.Server.Store, ledger.EscrowOf(classID))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (w *world) lifecycle(t *testing.T, u *cptest.User, classID string) map[string]any {
	t.Helper()
	return w.env.Do(t, "GET", "/api/v1/classes/"+classID+"/lifecycle", u.Token, nil).Want(t, http.StatusOK).Map(t)
}

func (w *world) outcome(t *testing.T, classID string) string {
	t.Helper()
	o, err := w.env.Server.Store.ClassOutcomeByID(context.Background(), classID)
	if err != nil {
		return ""
	}
	return o.Outcome
}

// The teacher leaves a minute in while the only students' tabs are closed: the room empties
// and finishes. That is not the end: nothing is settled, students keep getting join tokens,
// the teacher comes back on a new room and teaches; the class settles completed once.
func TestLifecycleLeaveAndRejoin(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	everyone := bc.students
	w.advance(t, 2*time.Hour-2*time.Minute, everyone...)
	a := w.room(bc.id, "RM_A_"+bc.id[:8])
	a.join(t, w.teacher, "PA_t1", bc.starts.Add(-2*time.Minute))
	for i, s := range bc.students {
		w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", s.Token, nil).Want(t, http.StatusOK)
		a.join(t, s, fmt.Sprintf("PA_s%d", i), bc.starts)
	}
	for i, s := range bc.students {
		a.leave(t, s, fmt.Sprintf("PA_s%d", i), bc.starts.Add(50*time.Second))
	}
	a.leave(t, w.teacher, "PA_t1", bc.starts.Add(time.Minute))
	a.finish(t, bc.starts.Add(90*time.Second))
	w.advance(t, 20*time.Minute, everyone...) // past the no-show deadline
	// (Sweeps see every class in the package's database, so each test judges its own class.)
	if w.sweep(t); w.outcome(t, bc.id) != "" {
		t.Fatalf("the sweep after the room emptied decided %q, want nothing", w.outcome(t, bc.id))
	}
	if rs := w.refunds(t, bc.id); len(rs) != 0 {
		t.Fatalf("refunds after the room emptied: %v", rs)
	}
	if l := w.lifecycle(t, w.teacher, bc.id); l["state"] != "live" || l["joinable"] != true || l["outcome"] != nil {
		t.Fatalf("lifecycle after the room emptied = %v, want live and joinable", l)
	}
	// Everyone may come back: the join endpoint keeps issuing tokens, the teacher's too.
	for _, u := range append([]*cptest.User{w.teacher}, bc.students...) {
		w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", u.Token, nil).Want(t, http.StatusOK)
	}
	b := w.room(bc.id, "RM_B_"+bc.id[:8])
	b.join(t, w.teacher, "PA_t2", bc.starts.Add(22*time.Minute))
	b.join(t, bc.students[0], "PA_s0b", bc.starts.Add(23*time.Minute))
	b.leave(t, w.teacher, "PA_t2", bc.starts.Add(60*time.Minute))
	b.finish(t, bc.starts.Add(61*time.Minute))
	// Overtime: still joinable until the grace is over, then ended; nothing paid yet.
	w.advance(t, time.Minute, everyone...)
	w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", bc.students[1].Token, nil).Want(t, http.StatusOK)
	w.advance(t, w.env.Config.LiveKit.RejoinGrace, everyone...)
	w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", bc.students[1].Token, nil).WantError(t, http.StatusConflict, "class_ended")
	w.sweep(t)
	if e := w.earnings(t); e != 0 {
		t.Fatalf("earnings %d before settlement", e)
	}
	// 1 + 38 minutes taught of 60: at least half, so completed: 60 credits, 20% commission.
	w.settleAfterWindow(t, bc.starts, 60*time.Minute, everyone...)
	w.sweep(t)
	if o := w.outcome(t, bc.id); o != store.OutcomeCompleted {
		t.Fatalf("outcome %q, want completed", o)
	}
	if e := w.earnings(t); e != 48 {
		t.Fatalf("teacher earnings = %d, want 48", e)
	}
	if rs := w.refunds(t, bc.id); len(rs) != 0 {
		t.Fatalf("refunds = %v, want none", rs)
	}
	w.checkLedger(t)
}

// "End class for everyone" 20 minutes into a 60-minute class: nobody can join any more,
// repeated and concurrent Ends change nothing, and the money is settled exactly once
// (early end: 40/60 back) settle_after later, however many sweeps and webhooks race.
func TestLifecycleEndSettlesOnce(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	otherTeacher := w.env.NewUser(t, "teacher")
	end := func(u *cptest.User) *cptest.Response {
		return w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/end", u.Token, nil)
	}
	end(w.teacher).WantError(t, http.StatusConflict, "class_not_started")
	w.advance(t, 2*time.Hour, bc.students...)
	w.env.Login(t, otherTeacher)
	a := w.room(bc.id, "RM_A_"+bc.id[:8])
	a.join(t, w.teacher, "PA_t", bc.starts)
	for i, s := range bc.students {
		a.join(t, s, fmt.Sprintf("PA_s%d", i), bc.starts.Add(time.Minute))
	}
	w.advance(t, 19*time.Minute, bc.students...) // 20 minutes in
	w.env.Login(t, otherTeacher)
	end(bc.students[0]).WantError(t, http.StatusForbidden, "forbidden")
	end(otherTeacher).WantError(t, http.StatusForbidden, "forbidden")

	// The preview the confirmation dialog shows, then the End itself (five at once).
	l := w.lifecycle(t, w.teacher, bc.id)
	p, ok := l["end_preview"].(map[string]any)
	if !ok || p["outcome"] != "early_end" || p["refund_credits"] != 13.0 || p["taught_minutes"] != 20.0 || p["message"] == "" {
		t.Fatalf("end preview = %v, want early_end refunding 13 of 20", l["end_preview"])
	}
	if _, shown := w.lifecycle(t, bc.students[0], bc.id)["end_preview"]; shown {
		t.Fatal("a student was shown the End preview")
	}
	var got tally
	parallel(5, func(int) { got.add(end(w.teacher)) })
	if got.m["200 "] != 5 {
		t.Fatalf("concurrent Ends answered %v, want 5 × 200", got.m)
	}
	res := end(w.teacher).Want(t, http.StatusOK).Map(t)
	eff := res["effect"].(map[string]any)
	if res["already_ended"] != true || res["state"] != "ended" || eff["outcome"] != "early_end" || eff["refund_credits"] != 13.0 {
		t.Fatalf("repeated End = %v", res)
	}
	audits, err := w.env.Server.Store.ListAudit(context.Background(), store.AuditFilter{Action: "class.ended", TargetID: bc.id, Limit: 10})
	if err != nil || len(audits) != 1 || audits[0].ActorID != w.teacher.ID {
		t.Fatalf("class.ended audit = %+v, %v; want one, by the teacher", audits, err)
	}
	// Nobody gets in after the End, the teacher neither.
	for _, u := range append([]*cptest.User{w.teacher}, bc.students...) {
		w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", u.Token, nil).WantError(t, http.StatusConflict, "class_ended")
	}
	// The SFU reports everyone leaving as the room closes.
	endedAt := bc.starts.Add(20 * time.Minute)
	a.leave(t, w.teacher, "PA_t", endedAt)
	for i, s := range bc.students {
		a.leave(t, s, fmt.Sprintf("PA_s%d", i), endedAt)
	}
	a.finish(t, endedAt)
	w.sweep(t)
	if rs := w.refunds(t, bc.id); len(rs) != 0 || w.earnings(t) != 0 {
		t.Fatalf("settled before settle_after: refunds %v", rs)
	}
	// settle_after later: sweeps and late duplicate webhooks race; one settlement.
	w.advance(t, w.env.Config.Money.SettleAfter, bc.students...)
	parallel(6, func(i int) {
		if i%2 == 0 {
			_, _ = w.env.Server.Money.Booking.Sweep(context.Background())
			return
		}
		ev := cptest.RoomEvent(fmt.Sprintf("EV_late_fin_%s_%d", bc.id, i), webhook.EventRoomFinished, bc.id, endedAt)
		w.env.SendWebhook(t, ev)
	})
	w.sweep(t)
	w.wantRefunds(t, bc, "early_end", 20, 13)
	// Escrow left: 3 × 7 = 21; 20% commission = 4; the teacher gets 17, once.
	if e := w.earnings(t); e != 17 {
		t.Fatalf("teacher earnings = %d, want 17", e)
	}
	if e := w.escrow(t, bc.id); e != 0 {
		t.Fatalf("escrow = %d, want 0", e)
	}
	if l := w.lifecycle(t, w.teacher, bc.id); l["state"] != "settled" || l["outcome"] != "early_end" {
		t.Fatalf("lifecycle after settlement = %v", l)
	}
	end(w.teacher).Want(t, http.StatusOK)
	w.sweep(t)
	w.wantRefunds(t, bc, "early_end", 20, 13)
	w.checkLedger(t)
}

// The teacher joins five minutes early, leaves after 30 seconds and never teaches: at the
// no-show deadline every student is refunded in full exactly once, however many sweeps and
// webhooks race, and the teacher is never paid. (The no-show sweep used to pass this class,
// because the teacher had "joined".)
func TestLifecycleNoShowRefundsOnce(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	w.advance(t, 2*time.Hour-5*time.Minute, bc.students...)
	a := w.room(bc.id, "RM_A_"+bc.id[:8])
	a.join(t, w.teacher, "PA_t", bc.starts.Add(-5*time.Minute))
	a.leave(t, w.teacher, "PA_t", bc.starts.Add(-5*time.Minute+30*time.Second))
	for i, s := range bc.students {
		a.join(t, s, fmt.Sprintf("PA_s%d", i), bc.starts)
	}
	w.advance(t, 14*time.Minute, bc.students...)
	if w.sweep(t); w.outcome(t, bc.id) != "" {
		t.Fatalf("the sweep before the deadline decided %q", w.outcome(t, bc.id))
	}
	w.advance(t, 2*time.Minute, bc.students...)
	now := w.env.Clock.Now()
	parallel(9, func(i int) {
		if i%3 == 0 {
			_, _ = w.env.Server.Money.Booking.Sweep(context.Background())
			return
		}
		s := bc.students[i%3]
		ev := cptest.ParticipantEvent(fmt.Sprintf("EV_race_%s_%d", bc.id, i), webhook.EventParticipantJoined, bc.id, s.ID, fmt.Sprintf("PA_r%d", i), now)
		w.env.SendWebhook(t, ev)
	})
	w.sweep(t)
	w.wantRefunds(t, bc, "teacher_no_show", 20, 20)
	if o := w.outcome(t, bc.id); o != store.OutcomeNoShow {
		t.Fatalf("outcome %q, want no_show", o)
	}
	// The class is over for everyone, the teacher included.
	w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", w.teacher.Token, nil).WantError(t, http.StatusConflict, "class_ended")
	w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/end", w.teacher.Token, nil).WantError(t, http.StatusConflict, "class_ended")
	// The teacher turning up later and the window closing change nothing.
	a.join(t, w.teacher, "PA_t_late", bc.starts.Add(20*time.Minute))
	a.leave(t, w.teacher, "PA_t_late", bc.starts.Add(60*time.Minute))
	w.settleAfterWindow(t, bc.starts, 60*time.Minute, bc.students...)
	w.wantRefunds(t, bc, "teacher_no_show", 20, 20)
	if e := w.earnings(t); e != 0 {
		t.Fatalf("a no-show teacher earned %d", e)
	}
	w.checkLedger(t)
}

// An SFU node is killed mid-class: the last event it sent is a student leaving 25 minutes in;
// then nothing, no leaves, no room_finished. Nothing is paid while the class's window is
// open or before settle_after; then the rule for sessions without a leave decides: the
// teacher's session counts until the dead node's last event (25 of 60 minutes, an early
// end), never until the scheduled end.
func TestLifecycleNodeKilled(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	w.advance(t, 2*time.Hour, bc.students...)
	a := w.room(bc.id, "RM_A_"+bc.id[:8])
	a.join(t, w.teacher, "PA_t", bc.starts)
	for i, s := range bc.students {
		a.join(t, s, fmt.Sprintf("PA_s%d", i), bc.starts.Add(time.Minute))
	}
	a.leave(t, bc.students[2], "PA_s2", bc.starts.Add(25*time.Minute))
	// The node dies at about 30 minutes. Nobody comes back.
	for _, at := range []time.Duration{30 * time.Minute, 65 * time.Minute, 69 * time.Minute, 129 * time.Minute} {
		w.advance(t, bc.starts.Add(at).Sub(w.env.Clock.Now()), bc.students...)
		if w.sweep(t); w.outcome(t, bc.id) != "" {
			t.Fatalf("the sweep %s in decided %q before the rule may", at, w.outcome(t, bc.id))
		}
		if e, esc := w.earnings(t), w.escrow(t, bc.id); e != 0 || esc != 60 {
			t.Fatalf("%s in: earnings %d escrow %d, want 0 and 60 held", at, e, esc)
		}
		if rs := w.refunds(t, bc.id); len(rs) != 0 {
			t.Fatalf("%s in: refunds %v", at, rs)
		}
	}
	if l := w.lifecycle(t, w.teacher, bc.id); l["state"] != "ended" || l["outcome"] != nil {
		t.Fatalf("lifecycle before the rule decides = %v", l)
	}
	w.settleAfterWindow(t, bc.starts, 60*time.Minute, bc.students...)
	// 25 of 60 minutes: each booking gets 20 × 35/60 = 11 back; escrow left 3 × 9 = 27,
	// 20% commission = 5, the teacher gets 22.
	w.wantRefunds(t, bc, "early_end", 20, 11)
	if e := w.earnings(t); e != 22 {
		t.Fatalf("teacher earnings = %d, want 22", e)
	}
	w.sweep(t)
	w.wantRefunds(t, bc, "early_end", 20, 11)
	w.checkLedger(t)
}

// The node is killed and everyone reconnects to another node, where the class goes on: the
// old sessions end where the new ones start, and the class settles completed.
func TestLifecycleNodeKilledAndRecovered(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	w.advance(t, 2*time.Hour, bc.students...)
	a := w.room(bc.id, "RM_A_"+bc.id[:8])
	a.join(t, w.teacher, "PA_t1", bc.starts)
	a.join(t, bc.students[0], "PA_s1", bc.starts.Add(time.Minute))
	b := w.room(bc.id, "RM_B_"+bc.id[:8])
	b.join(t, bc.students[0], "PA_s2", bc.starts.Add(30*time.Minute+5*time.Second))
	b.join(t, w.teacher, "PA_t2", bc.starts.Add(30*time.Minute+8*time.Second))
	b.leave(t, w.teacher, "PA_t2", bc.starts.Add(60*time.Minute))
	b.finish(t, bc.starts.Add(61*time.Minute))
	w.settleAfterWindow(t, bc.starts, 60*time.Minute, bc.students...)
	if o := w.outcome(t, bc.id); o != store.OutcomeCompleted {
		t.Fatalf("outcome %q, want completed", o)
	}
	if e := w.earnings(t); e != 48 {
		t.Fatalf("teacher earnings = %d, want 48", e)
	}
	w.checkLedger(t)
}
