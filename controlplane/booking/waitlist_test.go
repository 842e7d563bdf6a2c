package booking_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

type waitEntry struct {
	Status         string     `json:"status"`
	Position       int        `json:"position"`
	OfferExpiresAt *time.Time `json:"offer_expires_at"`
}

func (w *world) waitlist(t *testing.T, u *cptest.User, classID string) waitEntry {
	t.Helper()
	var e waitEntry
	w.env.Do(t, "GET", "/api/v1/classes/"+classID+"/waitlist", u.Token, nil).Want(t, http.StatusOK).JSON(t, &e)
	return e
}

func TestWaitlistOfferClaimAndExpiry(t *testing.T) {
	w := newWorld(t)
	classID := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{StartsIn: 72 * time.Hour, Capacity: 2, Price: 10})["id"].(string)
	s1, s2, s3, s4 := w.student(t, 50), w.student(t, 50), w.student(t, 50), w.student(t, 50)
	b1 := w.mustBook(t, s1, classID)
	w.env.Do(t, "POST", "/api/v1/classes/"+classID+"/waitlist", s3.Token, nil).WantError(t, http.StatusConflict, "seats_available")
	w.mustBook(t, s2, classID)
	w.book(t, s3, classID, "k", nil).WantError(t, http.StatusConflict, "class_full")
	w.env.Do(t, "POST", "/api/v1/classes/"+classID+"/waitlist", s3.Token, nil).Want(t, http.StatusCreated)
	w.env.Do(t, "POST", "/api/v1/classes/"+classID+"/waitlist", s3.Token, nil).WantError(t, http.StatusConflict, "already_waitlisted")
	w.env.Do(t, "POST", "/api/v1/classes/"+classID+"/waitlist", s4.Token, nil).Want(t, http.StatusCreated)
	if e := w.waitlist(t, s4, classID); e.Status != "waiting" || e.Position != 2 {
		t.Fatalf("s4 entry = %+v, want waiting at 2", e)
	}
	// s1 cancels: the seat is offered to s3, first in line, for 24 hours, and held for them.
	w.env.Do(t, "DELETE", "/api/v1/bookings/"+b1, s1.Token, nil).Want(t, http.StatusOK)
	e := w.waitlist(t, s3, classID)
	wantExpiry := w.env.Clock.Now().Add(24 * time.Hour)
	if e.Status != "offered" || e.OfferExpiresAt == nil || e.OfferExpiresAt.Sub(wantExpiry).Abs() > time.Minute {
		t.Fatalf("s3 entry = %+v, want offered until about %v", e, wantExpiry)
	}
	cptest.WaitEmail(t, s3.Email, "A seat is free")
	w.book(t, s4, classID, "k4", nil).WantError(t, http.StatusConflict, "class_full")
	// The freed seat is held for s3, so for anyone else the class is still full.
	w.env.Do(t, "POST", "/api/v1/classes/"+classID+"/waitlist", s1.Token, nil).Want(t, http.StatusCreated)
	if e := w.waitlist(t, s1, classID); e.Status != "waiting" || e.Position != 2 {
		t.Fatalf("s1 entry = %+v, want waiting at 2 behind s4", e)
	}
	// s3 lets the offer lapse: it passes to s4, who claims it.
	w.advance(t, 24*time.Hour+time.Minute, s3, s4)
	if _, err := w.env.Server.Money.Booking.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	if e := w.waitlist(t, s3, classID); e.Status != "expired" {
		t.Fatalf("s3 entry after expiry = %+v", e)
	}
	if e := w.waitlist(t, s4, classID); e.Status != "offered" {
		t.Fatalf("s4 entry after s3's expiry = %+v", e)
	}
	w.book(t, s3, classID, "k3", nil).WantError(t, http.StatusConflict, "class_full")
	w.book(t, s4, classID, "k4", nil).Want(t, http.StatusCreated)
	if e := w.waitlist(t, s4, classID); e.Status != "booked" {
		t.Fatalf("s4 entry after booking = %+v", e)
	}
	w.checkLedger(t)
}

// An offer never outlasts the class start.
func TestWaitlistOfferEndsAtStart(t *testing.T) {
	w := newWorld(t)
	c := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{StartsIn: 2 * time.Hour, Capacity: 1, Price: 10})
	classID := c["id"].(string)
	starts, _ := time.Parse(time.RFC3339, c["starts_at"].(string))
	s1, s2 := w.student(t, 50), w.student(t, 50)
	b1 := w.mustBook(t, s1, classID)
	w.env.Do(t, "POST", "/api/v1/classes/"+classID+"/waitlist", s2.Token, nil).Want(t, http.StatusCreated)
	w.env.Do(t, "DELETE", "/api/v1/bookings/"+b1, s1.Token, nil).Want(t, http.StatusOK)
	e := w.waitlist(t, s2, classID)
	if e.Status != "offered" || e.OfferExpiresAt == nil || !e.OfferExpiresAt.Equal(starts) {
		t.Fatalf("offer = %+v, want it to end at the start %v", e, starts)
	}
	var n struct {
		Items []map[string]any `json:"items"`
	}
	w.env.Do(t, "GET", "/api/v1/me/notifications", s2.Token, nil).Want(t, http.StatusOK).JSON(t, &n)
	if len(n.Items) != 1 || n.Items[0]["kind"] != "waitlist_offer" {
		t.Fatalf("notifications = %v", n.Items)
	}
	w.checkLedger(t)
}
