package api

import (
	"time"

	"github.com/atrium-live/atrium/controlplane/store"
)

// JSON shapes of the money endpoints. Keep in step with openapi.yaml.

type bookingView struct {
	ID              string     `json:"id"`
	ClassID         string     `json:"class_id"`
	ClassTitle      string     `json:"class_title"`
	ClassStartsAt   time.Time  `json:"class_starts_at"`
	ClassStatus     string     `json:"class_status"`
	StudentID       string     `json:"student_id"`
	Status          string     `json:"status"`
	PriceCredits    int        `json:"price_credits"`
	PaidCredits     int        `json:"paid_credits"`
	RefundedCredits int        `json:"refunded_credits"`
	FeeCredits      int        `json:"fee_credits"`
	DiscountApplied bool       `json:"discount_applied"`
	CreatedAt       time.Time  `json:"created_at"`
	CancelledAt     *time.Time `json:"cancelled_at"`
	// ClassEndsAt and the join window (joinable_*) are filled in by bookingsOut for the
	// student's own lists (GET /me/bookings).
	ClassEndsAt *time.Time `json:"class_ends_at,omitempty"`
	joinView
}

func viewBooking(b store.Booking) bookingView {
	return bookingView{ID: b.ID, ClassID: b.ClassID, ClassTitle: b.ClassTitle, ClassStartsAt: b.ClassStartsAt.UTC(),
		ClassStatus: b.ClassStatus, StudentID: b.StudentID, Status: b.Status, PriceCredits: b.PriceCredits,
		PaidCredits: b.PaidCredits, RefundedCredits: b.RefundedCredits, FeeCredits: b.FeeCredits,
		DiscountApplied: b.DiscountCodeID != "", CreatedAt: b.CreatedAt.UTC(), CancelledAt: b.CancelledAt}
}

func viewBookings(bs []store.Booking) []bookingView {
	out := make([]bookingView, 0, len(bs))
	for _, b := range bs {
		out = append(out, viewBooking(b))
	}
	return out
}

type refundView struct {
	ID         string    `json:"id"`
	BookingID  string    `json:"booking_id"`
	ClassID    string    `json:"class_id"`
	ClassTitle string    `json:"class_title,omitempty"`
	StudentID  string    `json:"student_id"`
	Rule       string    `json:"rule"`
	Reason     string    `json:"reason"`
	Credits    int       `json:"credits"`
	FeeCredits int       `json:"fee_credits"`
	ActorID    string    `json:"actor_id,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
}

func viewRefund(r store.Refund) refundView {
	return refundView{ID: r.ID, BookingID: r.BookingID, ClassID: r.ClassID, ClassTitle: r.ClassTitle, StudentID: r.StudentID,
		Rule: r.Rule, Reason: r.Reason, Credits: r.Credits, FeeCredits: r.FeeCredits, ActorID: r.ActorID,
		CreatedAt: r.CreatedAt.UTC()}
}

type waitlistView struct {
	ID             string     `json:"id"`
	ClassID        string     `json:"class_id"`
	Status         string     `json:"status"`
	Position       int        `json:"position"`
	OfferExpiresAt *time.Time `json:"offer_expires_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func viewWaitlist(w store.WaitlistEntry) waitlistView {
	return waitlistView{ID: w.ID, ClassID: w.ClassID, Status: w.Status, Position: w.Position,
		OfferExpiresAt: w.OfferExpiresAt, CreatedAt: w.CreatedAt.UTC()}
}

type disputeView struct {
	ID             string     `json:"id"`
	BookingID      string     `json:"booking_id"`
	StudentID      string     `json:"student_id"`
	Reason         string     `json:"reason"`
	Status         string     `json:"status"`
	ResolutionNote string     `json:"resolution_note"`
	ResolvedAt     *time.Time `json:"resolved_at"`
	CreatedAt      time.Time  `json:"created_at"`
}

func viewDispute(d store.Dispute) disputeView {
	return disputeView{ID: d.ID, BookingID: d.BookingID, StudentID: d.StudentID, Reason: d.Reason, Status: d.Status,
		ResolutionNote: d.ResolutionNote, ResolvedAt: d.ResolvedAt, CreatedAt: d.CreatedAt.UTC()}
}

type purchaseView struct {
	ID            string     `json:"id"`
	PackageID     string     `json:"package_id"`
	Credits       int        `json:"credits"`
	AmountCents   int64      `json:"amount_cents"`
	Currency      string     `json:"currency"`
	Status        string     `json:"status"`
	CheckoutURL   string     `json:"checkout_url,omitempty"`
	SessionID     string     `json:"checkout_session_id,omitempty"`
	FailureReason string     `json:"failure_reason,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	PaidAt        *time.Time `json:"paid_at"`
}

func viewPurchase(p store.Purchase) purchaseView {
	return purchaseView{ID: p.ID, PackageID: p.PackageID, Credits: p.Credits, AmountCents: p.AmountCents, Currency: p.Currency,
		Status: p.Status, CheckoutURL: p.CheckoutURL, SessionID: p.StripeSessionID, FailureReason: p.FailureReason,
		CreatedAt: p.CreatedAt.UTC(), PaidAt: p.PaidAt}
}

type payoutView struct {
	ID               string     `json:"id"`
	TeacherID        string     `json:"teacher_id"`
	Credits          int        `json:"credits"`
	AmountCents      int64      `json:"amount_cents"`
	Currency         string     `json:"currency"`
	Destination      string     `json:"destination"`
	Status           string     `json:"status"`
	StripeTransferID string     `json:"stripe_transfer_id,omitempty"`
	LastError        string     `json:"last_error,omitempty"`
	Note             string     `json:"note,omitempty"`
	CreatedAt        time.Time  `json:"created_at"`
	DecidedAt        *time.Time `json:"decided_at"`
	PaidAt           *time.Time `json:"paid_at"`
}

func viewPayout(p store.Payout) payoutView {
	return payoutView{ID: p.ID, TeacherID: p.TeacherID, Credits: p.Credits, AmountCents: p.AmountCents, Currency: p.Currency,
		Destination: p.Destination, Status: p.Status, StripeTransferID: p.StripeTransferID, LastError: p.LastError,
		Note: p.Note, CreatedAt: p.CreatedAt.UTC(), DecidedAt: p.DecidedAt, PaidAt: p.PaidAt}
}

func viewPayouts(ps []store.Payout) []payoutView {
	out := make([]payoutView, 0, len(ps))
	for _, p := range ps {
		out = append(out, viewPayout(p))
	}
	return out
}
