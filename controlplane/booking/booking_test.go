package booking_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/ledger"
)

// 200 funded students race for 10 seats: exactly 10 bookings, 190 clean refusals, and every
// wallet and the escrow hold exactly what they should.
func TestConcurrentBookingsNeverOversell(t *testing.T) {
	w := newWorld(t)
	class := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{Capacity: 10, Price: 10})
	classID := class["id"].(string)
	students := make([]*cptest.User, 200)
	for i := range students {
		students[i] = w.student(t, 25)
	}
	var got tally
	results := make([]*cptest.Response, len(students))
	parallel(len(students), func(i int) {
		results[i] = w.book(t, students[i], classID, "race-"+students[i].ID, nil)
		got.add(results[i])
	})
	if got.m["201 "] != 10 || got.m["409 class_full"] != 190 || len(got.m) != 2 {
		t.Fatalf("outcomes %v, want 10 × 201 and 190 × 409 class_full", got.m)
	}
	ctx := context.Background()
	st := w.env.Server.Store
	for i, s := range students {
		want := int64(25)
		if results[i].Status == http.StatusCreated {
			want = 15
		}
		if b, err := ledger.Balance(ctx, st, ledger.WalletOf(s.ID)); err != nil || b != want {
			t.Fatalf("student %d wallet = %d, %v; want %d", i, b, err, want)
		}
	}
	if b, err := ledger.Balance(ctx, st, ledger.EscrowOf(classID)); err != nil || b != 100 {
		t.Fatalf("escrow = %d, %v; want 100", b, err)
	}
	c := w.env.Do(t, "GET", "/api/v1/classes/"+classID, "", nil).Want(t, http.StatusOK).Map(t)
	if c["seats_taken"].(float64) != 10 || c["seats_left"].(float64) != 0 {
		t.Fatalf("class seats: taken %v, left %v", c["seats_taken"], c["seats_left"])
	}
	w.checkLedger(t)
}

// The same booking request sent 20 times at once with one Idempotency-Key books once; every
// answer names the same booking.
func TestBookingIdempotencyKey(t *testing.T) {
	w := newWorld(t)
	classID := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{Capacity: 5, Price: 10})["id"].(string)
	s := w.student(t, 100)
	var got tally
	ids := make([]string, 20)
	parallel(20, func(i int) {
		r := w.book(t, s, classID, "double-click", nil)
		got.add(r)
		var b struct {
			ID string `json:"id"`
		}
		r.JSON(t, &b)
		ids[i] = b.ID
	})
	if got.m["201 "] != 1 || got.m["200 "] != 19 {
		t.Fatalf("outcomes %v, want one 201 and nineteen 200", got.m)
	}
	for _, id := range ids {
		if id != ids[0] || id == "" {
			t.Fatalf("booking ids differ: %v", ids)
		}
	}
	if b := w.balance(t, s); b != 90 {
		t.Fatalf("wallet = %d, want 90", b)
	}
	// A second booking of the same class under another key is a double booking.
	w.book(t, s, classID, "another-key", nil).WantError(t, http.StatusConflict, "already_booked")
	// No key at all is refused before anything happens.
	w.env.Do(t, "POST", "/api/v1/classes/"+classID+"/bookings", s.Token, nil).WantError(t, http.StatusBadRequest, "idempotency_key_required")
	var mine struct {
		Upcoming []map[string]any `json:"upcoming"`
	}
	w.env.Do(t, "GET", "/api/v1/me/bookings", s.Token, nil).Want(t, http.StatusOK).JSON(t, &mine)
	if len(mine.Upcoming) != 1 || mine.Upcoming[0]["id"] != ids[0] {
		t.Fatalf("me/bookings upcoming = %v", mine.Upcoming)
	}
	cptest.WaitEmail(t, s.Email, "Booked:")
	metrics := w.env.Scrape(t)
	for _, want := range []string{`atrium_money_bookings_total{result="created"} 1`, `atrium_money_bookings_total{result="replayed"} 19`,
		`atrium_money_bookings_total{result="already_booked"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	w.checkLedger(t)
}

// A short wallet is a 402 with the shortfall and changes nothing; a discount code lowers the
// price and is consumed only by a booking that commits.
func TestInsufficientCreditsAndDiscount(t *testing.T) {
	w := newWorld(t)
	classID := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{Capacity: 5, Price: 40, Tier: "premium"})["id"].(string)
	s := w.student(t, 30)
	r := w.book(t, s, classID, "k1", nil).WantError(t, http.StatusPaymentRequired, "insufficient_credits")
	var e struct {
		Error struct {
			Details map[string]float64 `json:"details"`
		} `json:"error"`
	}
	r.JSON(t, &e)
	if e.Error.Details["shortfall"] != 10 || e.Error.Details["price"] != 40 || e.Error.Details["balance"] != 30 {
		t.Fatalf("402 details = %v", e.Error.Details)
	}
	w.env.Do(t, "POST", "/api/v1/discount-codes", w.teacher.Token, map[string]any{"code": "HALF", "kind": "percent",
		"amount": 50, "valid_until": w.env.Clock.Now().Add(72 * time.Hour).UTC().Format(time.RFC3339), "max_uses": 1}).
		Want(t, http.StatusCreated)
	w.book(t, s, classID, "k2", map[string]any{"discount_code": "nope"}).WantError(t, http.StatusUnprocessableEntity, "validation_failed")
	poor := w.student(t, 5)
	w.book(t, poor, classID, "k3", map[string]any{"discount_code": "half"}).WantError(t, http.StatusPaymentRequired, "insufficient_credits")
	var b struct {
		Paid     int  `json:"paid_credits"`
		Discount bool `json:"discount_applied"`
	}
	w.book(t, s, classID, "k4", map[string]any{"discount_code": "half"}).Want(t, http.StatusCreated).JSON(t, &b)
	if b.Paid != 20 || !b.Discount {
		t.Fatalf("booking with discount: paid %d, discount %v", b.Paid, b.Discount)
	}
	if got := w.balance(t, s); got != 10 {
		t.Fatalf("wallet = %d, want 10", got)
	}
	other := w.student(t, 100)
	w.book(t, other, classID, "k5", map[string]any{"discount_code": "HALF"}).WantError(t, http.StatusUnprocessableEntity, "validation_failed")
	w.checkLedger(t)
}

// Bookings of cancelled or started classes, by teachers, for unknown classes are refused.
func TestBookingBadInput(t *testing.T) {
	w := newWorld(t)
	classID := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{StartsIn: time.Hour})["id"].(string)
	s := w.student(t, 100)
	w.book(t, w.teacher, classID, "k", nil).WantError(t, http.StatusForbidden, "forbidden")
	w.book(t, s, "00000000-0000-0000-0000-000000000000", "k", nil).WantError(t, http.StatusNotFound, "not_found")
	w.book(t, s, classID, "k", map[string]any{"discount_code": 5}).WantError(t, http.StatusUnprocessableEntity, "validation_failed")
	w.book(t, s, classID, "k x", nil).WantError(t, http.StatusBadRequest, "idempotency_key_required")
	cancelled := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{})["id"].(string)
	w.env.Do(t, "POST", "/api/v1/classes/"+cancelled+"/cancel", w.teacher.Token, map[string]any{"reason": "ill"}).Want(t, http.StatusOK)
	w.book(t, s, cancelled, "k", nil).WantError(t, http.StatusConflict, "class_cancelled")
	w.advance(t, time.Hour+time.Minute, s)
	w.book(t, s, classID, "k", nil).WantError(t, http.StatusConflict, "class_started")
	if got := w.balance(t, s); got != 100 {
		t.Fatalf("wallet = %d, want 100", got)
	}
	w.checkLedger(t)
}
