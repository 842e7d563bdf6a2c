package booking_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/ledger"
)

// bookedClass is a class with three students who each paid price.
type bookedClass struct {
	id       string
	starts   time.Time
	students []*cptest.User
	bookings []string
}

func (w *world) bookedClass(t *testing.T, startsIn time.Duration, price int) *bookedClass {
	t.Helper()
	c := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{StartsIn: startsIn, Duration: 60, Capacity: 10, Price: price})
	starts, err := time.Parse(time.RFC3339, c["starts_at"].(string))
	if err != nil {
		t.Fatal(err)
	}
	bc := &bookedClass{id: c["id"].(string), starts: starts}
	for range 3 {
		s := w.student(t, 100)
		bc.students = append(bc.students, s)
		bc.bookings = append(bc.bookings, w.mustBook(t, s, bc.id))
	}
	return bc
}

// wantRefunds checks that each booking of bc was refunded exactly once under rule with
// credits, and each wallet holds 100 - price + credits.
func (w *world) wantRefunds(t *testing.T, bc *bookedClass, rule string, price, credits int) {
	t.Helper()
	rs := w.refunds(t, bc.id)
	if len(rs) != len(bc.bookings) {
		t.Fatalf("%d refunds, want %d: %v", len(rs), len(bc.bookings), rs)
	}
	seen := map[string]bool{}
	for _, r := range rs {
		if r["rule"] != rule || int(r["credits"].(float64)) != credits || seen[r["booking_id"].(string)] {
			t.Fatalf("refund %v, want rule %s credits %d once per booking", r, rule, credits)
		}
		seen[r["booking_id"].(string)] = true
	}
	for _, s := range bc.students {
		if got := w.balance(t, s); got != 100-price+credits {
			t.Fatalf("wallet = %d, want %d", got, 100-price+credits)
		}
	}
}

// sendConcurrently delivers n distinct LiveKit webhooks built by mk at once; each must be accepted.
func (w *world) sendConcurrently(t *testing.T, n int, mk func(i int) *cptest.Response) {
	t.Helper()
	var got tally
	parallel(n, func(i int) { got.add(mk(i)) })
	if got.m["200 "] != n {
		t.Fatalf("webhook answers %v, want %d × 200", got.m, n)
	}
}

func TestRefundTeacherNoShow(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	// Ten minutes in, the teacher is late but not yet a no-show.
	w.advance(t, 2*time.Hour+10*time.Minute, bc.students...)
	if _, err := w.env.Server.Money.Booking.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if rs := w.refunds(t, bc.id); len(rs) != 0 {
		t.Fatalf("refunds before the no-show deadline: %v", rs)
	}
	w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", bc.students[0].Token, nil).Want(t, http.StatusOK)
	// Sixteen minutes in, 15 room events arrive at once (students joining, no teacher).
	w.advance(t, 6*time.Minute, bc.students...)
	now := w.env.Clock.Now()
	w.sendConcurrently(t, 15, func(i int) *cptest.Response {
		s := bc.students[i%3]
		return w.env.SendWebhook(t, cptest.ParticipantEvent(fmt.Sprintf("EV_noshow_%s_%d", bc.id, i), webhook.EventParticipantJoined,
			bc.id, s.ID, fmt.Sprintf("PA_%d", i), now))
	})
	w.wantRefunds(t, bc, "teacher_no_show", 20, 20)
	// Refunded students may no longer join; the teacher arriving late changes nothing.
	w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", bc.students[0].Token, nil).WantError(t, http.StatusForbidden, "not_booked")
	w.env.SendWebhook(t, cptest.ParticipantEvent("EV_late_teacher_"+bc.id, webhook.EventParticipantJoined, bc.id, w.teacher.ID,
		"PA_teacher", now)).Want(t, http.StatusOK)
	w.wantRefunds(t, bc, "teacher_no_show", 20, 20)
	cptest.WaitEmail(t, bc.students[1].Email, "Refund:")
	var n struct {
		Items []map[string]any `json:"items"`
	}
	w.env.Do(t, "GET", "/api/v1/me/notifications", bc.students[1].Token, nil).Want(t, http.StatusOK).JSON(t, &n)
	// Newest first: the refund, after the booking's own notice.
	if len(n.Items) != 2 || n.Items[0]["kind"] != "refund" || n.Items[1]["kind"] != "booking" {
		t.Fatalf("notifications = %v, want refund then booking", n.Items)
	}
	w.checkLedger(t)
}

func TestRefundEarlyEndAndSettlement(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	w.advance(t, 2*time.Hour, bc.students...)
	w.env.SendWebhook(t, cptest.RoomEvent("EV_start_"+bc.id, webhook.EventRoomStarted, bc.id, bc.starts)).Want(t, http.StatusOK)
	w.env.SendWebhook(t, cptest.ParticipantEvent("EV_teacher_"+bc.id, webhook.EventParticipantJoined, bc.id, w.teacher.ID,
		"PA_t", bc.starts)).Want(t, http.StatusOK)
	// The room finishes 20 minutes into a 60-minute class and nobody comes back: once the
	// class's window closed, 40/60 of each booking comes back.
	w.advance(t, 20*time.Minute, bc.students...)
	finished := bc.starts.Add(20 * time.Minute)
	w.sendConcurrently(t, 15, func(i int) *cptest.Response {
		return w.env.SendWebhook(t, cptest.RoomEvent(fmt.Sprintf("EV_fin_%s_%d", bc.id, i), webhook.EventRoomFinished, bc.id, finished))
	})
	// An empty room is not the end of the class (docs/classes.md): nothing is decided until
	// the window closed and settle_after passed.
	if rs := w.refunds(t, bc.id); len(rs) != 0 {
		t.Fatalf("refunds when the room finished mid-class: %v", rs)
	}
	w.settleAfterWindow(t, bc.starts, 60*time.Minute, bc.students...)
	w.wantRefunds(t, bc, "early_end", 20, 13)
	// Escrow left: 3 × 7 = 21; basic commission 20% = 4; teacher gets 17.
	ctx := context.Background()
	if b, _ := ledger.Balance(ctx, w.env.Server.Store, ledger.EarningsOf(w.teacher.ID)); b != 17 {
		t.Fatalf("teacher earnings = %d, want 17", b)
	}
	if b, _ := ledger.Balance(ctx, w.env.Server.Store, ledger.EscrowOf(bc.id)); b != 0 {
		t.Fatalf("escrow = %d, want 0", b)
	}
	w.checkLedger(t)
}

func TestRefundTeacherCancellation(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 3*time.Hour, 20)
	var got tally
	parallel(15, func(int) {
		got.add(w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/cancel", w.teacher.Token, map[string]any{"reason": "I am ill"}))
	})
	if got.m["200 "] != 1 || got.m["409 class_not_editable"] != 14 {
		t.Fatalf("cancel answers %v", got.m)
	}
	w.wantRefunds(t, bc, "class_cancelled", 20, 20)
	cptest.WaitEmail(t, bc.students[2].Email, "Cancelled:")
	w.checkLedger(t)
}

func TestRefundStudentCancellation(t *testing.T) {
	w := newWorld(t)
	early := w.bookedClass(t, 48*time.Hour, 20) // outside the 24 h cutoff
	late := w.bookedClass(t, 3*time.Hour, 20)   // inside it
	// Someone else's booking is not found; 15 concurrent cancellations refund once.
	w.env.Do(t, "DELETE", "/api/v1/bookings/"+early.bookings[0], early.students[1].Token, nil).WantError(t, http.StatusNotFound, "not_found")
	var got tally
	parallel(15, func(int) {
		got.add(w.env.Do(t, "DELETE", "/api/v1/bookings/"+early.bookings[0], early.students[0].Token, nil))
	})
	if got.m["200 "] != 1 || got.m["409 booking_not_active"] != 14 {
		t.Fatalf("cancel answers %v", got.m)
	}
	if b := w.balance(t, early.students[0]); b != 100 {
		t.Fatalf("early cancellation: wallet %d, want 100", b)
	}
	var out struct {
		Refund map[string]any `json:"refund"`
	}
	w.env.Do(t, "DELETE", "/api/v1/bookings/"+late.bookings[0], late.students[0].Token, nil).Want(t, http.StatusOK).JSON(t, &out)
	if out.Refund["rule"] != "student_cancellation" || out.Refund["credits"].(float64) != 15 || out.Refund["fee_credits"].(float64) != 5 {
		t.Fatalf("late cancellation refund = %v, want 15 back and a 5 fee", out.Refund)
	}
	if b := w.balance(t, late.students[0]); b != 95 {
		t.Fatalf("late cancellation: wallet %d, want 95", b)
	}
	// After the start nothing can be cancelled.
	w.advance(t, 3*time.Hour+time.Minute, late.students...)
	w.env.Do(t, "DELETE", "/api/v1/bookings/"+late.bookings[1], late.students[1].Token, nil).WantError(t, http.StatusConflict, "class_started")
	c := w.env.Do(t, "GET", "/api/v1/classes/"+early.id, "", nil).Want(t, http.StatusOK).Map(t)
	if c["seats_taken"].(float64) != 2 {
		t.Fatalf("seats after a cancellation = %v, want 2", c["seats_taken"])
	}
	w.checkLedger(t)
}

// adminRefundStats returns the count and credits of "admin" refunds from GET /admin/refunds
// (the package's tests share a database, so callers compare before and after).
func (w *world) adminRefundStats(t *testing.T) [2]float64 {
	t.Helper()
	var list struct {
		Statistics struct {
			ByRule []map[string]any `json:"by_rule"`
			Total  map[string]any   `json:"total"`
		} `json:"statistics"`
	}
	w.env.Do(t, "GET", "/api/v1/admin/refunds", w.admin.Token, nil).Want(t, http.StatusOK).JSON(t, &list)
	for _, r := range list.Statistics.ByRule {
		if r["rule"] == "admin" {
			return [2]float64{r["count"].(float64), r["credits"].(float64)}
		}
	}
	return [2]float64{}
}

func TestRefundAdmin(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 3*time.Hour, 20)
	before := w.adminRefundStats(t)
	var got tally
	parallel(15, func(int) {
		got.add(w.env.Do(t, "POST", "/api/v1/admin/refunds", w.admin.Token,
			map[string]any{"booking_id": bc.bookings[0], "reason": "video failed for this student"}))
	})
	if got.m["201 "] != 1 || got.m["409 already_refunded"] != 14 {
		t.Fatalf("admin refund answers %v", got.m)
	}
	w.env.Do(t, "POST", "/api/v1/admin/refunds", w.admin.Token, map[string]any{"booking_id": bc.bookings[1],
		"credits": 50, "reason": "too much"}).WantError(t, http.StatusUnprocessableEntity, "validation_failed")
	w.env.Do(t, "POST", "/api/v1/admin/refunds", w.admin.Token, map[string]any{"booking_id": bc.bookings[1],
		"credits": 5, "reason": "audio was poor"}).Want(t, http.StatusCreated)
	w.env.Do(t, "POST", "/api/v1/admin/refunds", w.admin.Token, map[string]any{"booking_id": bc.bookings[1],
		"credits": 5, "reason": "again"}).WantError(t, http.StatusConflict, "already_refunded")
	w.env.Do(t, "POST", "/api/v1/admin/refunds", bc.students[2].Token, map[string]any{"booking_id": bc.bookings[2],
		"reason": "I want my money"}).WantError(t, http.StatusForbidden, "forbidden")
	if b := w.balance(t, bc.students[0]); b != 100 {
		t.Fatalf("fully refunded wallet = %d", b)
	}
	if b := w.balance(t, bc.students[1]); b != 85 {
		t.Fatalf("partly refunded wallet = %d", b)
	}
	after := w.adminRefundStats(t)
	if after[0]-before[0] != 2 || after[1]-before[1] != 25 {
		t.Fatalf("admin refund statistics went from %v to %v, want +2 refunds and +25 credits", before, after)
	}
	w.checkLedger(t)
}

func TestRefundDispute(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	w.env.Do(t, "POST", "/api/v1/bookings/"+bc.bookings[0]+"/disputes", bc.students[0].Token,
		map[string]any{"reason": "not yet"}).WantError(t, http.StatusConflict, "too_early_to_dispute")
	// The class runs normally and settles: 60 credits, 20% commission, 48 to the teacher.
	w.advance(t, 2*time.Hour, bc.students...)
	w.env.SendWebhook(t, cptest.ParticipantEvent("EV_t_"+bc.id, webhook.EventParticipantJoined, bc.id, w.teacher.ID, "PA_t", bc.starts)).Want(t, http.StatusOK)
	w.advance(t, 58*time.Minute, bc.students...)
	w.env.SendWebhook(t, cptest.RoomEvent("EV_f_"+bc.id, webhook.EventRoomFinished, bc.id, bc.starts.Add(58*time.Minute))).Want(t, http.StatusOK)
	w.settleAfterWindow(t, bc.starts, 60*time.Minute, bc.students...)
	if b, _ := ledger.Balance(context.Background(), w.env.Server.Store, ledger.EarningsOf(w.teacher.ID)); b != 48 {
		t.Fatalf("teacher earnings = %d, want 48", b)
	}
	var d struct {
		ID string `json:"id"`
	}
	w.env.Do(t, "POST", "/api/v1/bookings/"+bc.bookings[0]+"/disputes", bc.students[0].Token,
		map[string]any{"reason": "the teacher's camera never worked"}).Want(t, http.StatusCreated).JSON(t, &d)
	w.env.Do(t, "POST", "/api/v1/bookings/"+bc.bookings[0]+"/disputes", bc.students[0].Token,
		map[string]any{"reason": "again"}).WantError(t, http.StatusConflict, "dispute_exists")
	w.env.Do(t, "POST", "/api/v1/bookings/"+bc.bookings[0]+"/disputes", bc.students[1].Token,
		map[string]any{"reason": "not mine"}).WantError(t, http.StatusNotFound, "not_found")
	var got tally
	parallel(15, func(int) {
		got.add(w.env.Do(t, "POST", "/api/v1/admin/disputes/"+d.ID+"/resolve", w.admin.Token,
			map[string]any{"decision": "refund", "note": "confirmed by the recording"}))
	})
	if got.m["200 "] != 1 || got.m["409 dispute_closed"] != 14 {
		t.Fatalf("resolve answers %v", got.m)
	}
	rs := w.refunds(t, bc.id)
	if len(rs) != 1 || rs[0]["rule"] != "dispute" || rs[0]["credits"].(float64) != 20 {
		t.Fatalf("refunds = %v", rs)
	}
	// Two weeks after the end, the window to dispute has closed.
	w.advance(t, 14*24*time.Hour+time.Hour, bc.students...)
	w.env.Do(t, "POST", "/api/v1/bookings/"+bc.bookings[1]+"/disputes", bc.students[1].Token,
		map[string]any{"reason": "too late"}).WantError(t, http.StatusConflict, "dispute_window_closed")
	if b := w.balance(t, bc.students[0]); b != 100 {
		t.Fatalf("disputed wallet = %d, want 100", b)
	}
	w.checkLedger(t)
}
