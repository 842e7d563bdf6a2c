package booking_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/ledger"
)

// A partial admin refund does not stop the no-show refund of what is left, and the sweep
// finds the no-show without any webhook.
func TestNoShowAfterPartialAdminRefund(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	w.env.Do(t, "POST", "/api/v1/admin/refunds", w.admin.Token, map[string]any{"booking_id": bc.bookings[0],
		"credits": 5, "reason": "goodwill"}).Want(t, http.StatusCreated)
	outsider := w.student(t, 0)
	w.advance(t, 2*time.Hour+16*time.Minute, append(bc.students, outsider)...)
	w.env.Do(t, "POST", "/api/v1/classes/"+bc.id+"/join", outsider.Token, nil).WantError(t, http.StatusForbidden, "not_booked")
	res, err := w.env.Server.Money.Booking.Sweep(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcomes["no_show"] < 1 {
		t.Fatalf("sweep = %+v, want a no-show", res)
	}
	for i, s := range bc.students {
		if b := w.balance(t, s); b != 100 {
			t.Fatalf("student %d wallet = %d, want 100", i, b)
		}
	}
	if rs := w.refunds(t, bc.id); len(rs) != 4 {
		t.Fatalf("refunds = %v, want 1 admin + 3 no-show", rs)
	}
	w.checkLedger(t)
}

// A class whose room never reported finishing settles settle_after after its window closed
// (scheduled end + rejoin grace), from the leaves it did report.
func TestSweepSettlesWithoutFinishEvent(t *testing.T) {
	w := newWorld(t)
	bc := w.bookedClass(t, 2*time.Hour, 20)
	w.advance(t, 2*time.Hour, bc.students...)
	w.env.SendWebhook(t, cptest.ParticipantEvent("EV_t_"+bc.id, webhook.EventParticipantJoined, bc.id, w.teacher.ID,
		"PA_t", bc.starts)).Want(t, http.StatusOK)
	w.advance(t, 60*time.Minute, bc.students...)
	w.env.SendWebhook(t, cptest.ParticipantEvent("EV_tl_"+bc.id, webhook.EventParticipantLeft, bc.id, w.teacher.ID,
		"PA_t", bc.starts.Add(60*time.Minute))).Want(t, http.StatusOK)
	ctx := context.Background()
	grace, after := w.env.Config.LiveKit.RejoinGrace, w.env.Config.Money.SettleAfter
	w.advance(t, grace+after-time.Minute, bc.students...) // a minute before settlement: not yet
	if _, err := w.env.Server.Money.Booking.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := ledger.Balance(ctx, w.env.Server.Store, ledger.EarningsOf(w.teacher.ID)); b != 0 {
		t.Fatalf("settled too early: earnings %d", b)
	}
	w.advance(t, 2*time.Minute, bc.students...)
	if _, err := w.env.Server.Money.Booking.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if b, _ := ledger.Balance(ctx, w.env.Server.Store, ledger.EarningsOf(w.teacher.ID)); b != 48 {
		t.Fatalf("teacher earnings = %d, want 48", b)
	}
	if rs := w.refunds(t, bc.id); len(rs) != 0 {
		t.Fatalf("refunds = %v, want none", rs)
	}
	w.checkLedger(t)
}
