// Package booking is the money side of classes: students book seats with credits (wallet to
// class escrow, one database transaction, no oversell, no double booking), cancel under the
// cutoff/fee policy, queue on waitlists; the refund policy engine returns escrow to wallets
// (teacher no-show, early end, class cancelled, student cancellation, admin, dispute), each
// rule at most once per booking and never more than was paid; completed classes settle escrow to the teacher's earnings minus the
// tier's commission.
//
// Every credit movement goes through package ledger inside the transaction of the business
// change. Lock order, to stay deadlock-free: class row, then booking rows, then ledger
// accounts (ledger.Post orders those by id). Time comes from Deps.Now so tests control
// cutoffs, no-show deadlines and offer expiry. A *Service is safe for concurrent use.
package booking

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/calendar"
	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/lifecycle"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Config is the booking and refund policy.
type Config struct {
	// CancelCutoff: a student cancelling at least this long before the start gets everything
	// back; later (but before the start) they get it back minus LateCancelFeePercent.
	CancelCutoff         time.Duration
	LateCancelFeePercent int
	// ClaimWindow is how long a waitlist offer lasts (never past the class start).
	ClaimWindow time.Duration
	// Lifecycle is the class lifecycle policy (docs/classes.md): the join window, the
	// no-show deadline, the minimum teaching presence, the early-end share, and how long
	// settlement waits after the window closes.
	Lifecycle lifecycle.Policy
	// CommissionPercent is the platform's share of a settled class per tier.
	CommissionPercent map[string]int
	// DisputeWindow is how long after a class's scheduled end its students may dispute it.
	DisputeWindow time.Duration
	// ReminderOffsets: booked students get a "starting soon" email and notification at each
	// of these offsets before the start (whole minutes; empty: no reminders).
	ReminderOffsets []time.Duration
	// LowCreditsBelow: a booking that takes a wallet below this many credits notifies its
	// owner once (0: never).
	LowCreditsBelow int
	// AppURL is the public URL for links in emails.
	AppURL string
	// CalendarDomain ends the UIDs of calendar events (the host of AppURL).
	CalendarDomain string
	// Organizer is the ORGANIZER of invites (the sender of emails); optional.
	Organizer calendar.Person
}

// Mailer queues an email in the caller's transaction (*email.Outbox).
type Mailer interface {
	Enqueue(ctx context.Context, st *store.Store, m email.Message) error
}

// Deps are the service's collaborators; all but Metrics are required.
type Deps struct {
	Store   *store.Store
	Mailer  Mailer
	Log     *slog.Logger
	Now     func() time.Time
	Metrics *Metrics
}

// Service implements bookings, waitlists, refunds and settlement.
type Service struct {
	cfg Config
	Deps
}

// New returns a Service.
func New(cfg Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{cfg: cfg, Deps: d}
}

// Actor is who is calling. Email and Name are optional (they save a lookup for emails).
type Actor struct {
	UserID string
	Role   string
	Email  string
	Name   string
}

// Stable error codes of this package (listed in the OpenAPI spec).
const (
	CodeIdempotencyKeyRequired = "idempotency_key_required"
	CodeClassFull              = "class_full"
	CodeAlreadyBooked          = "already_booked"
	CodeClassStarted           = "class_started"
	CodeAlreadyRefunded        = "already_refunded"
	CodeBookingNotActive       = "booking_not_active"
	CodeSeatsAvailable         = "seats_available"
	CodeAlreadyWaitlisted      = "already_waitlisted"
	CodeDisputeExists          = "dispute_exists"
	CodeDisputeClosed          = "dispute_closed"
	CodeTooEarlyToDispute      = "too_early_to_dispute"
	CodeDisputeWindowClosed    = "dispute_window_closed"
)

var (
	errClassNotFound   = problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	errBookingNotFound = problem.New(http.StatusNotFound, problem.CodeNotFound, "no such booking")
	errAlreadyRefunded = problem.New(http.StatusConflict, CodeAlreadyRefunded, "this booking was already refunded")
)

// IdempotencyKeyProblem is the 400 for a missing or malformed Idempotency-Key header.
func IdempotencyKeyProblem() *problem.Error {
	return problem.New(http.StatusBadRequest, CodeIdempotencyKeyRequired,
		"send an Idempotency-Key header (1 to 200 printable characters) so a retry cannot book or pay twice")
}

// ValidIdempotencyKey reports whether k is acceptable as an Idempotency-Key.
func ValidIdempotencyKey(k string) bool {
	if len(k) < 1 || len(k) > 200 {
		return false
	}
	for _, r := range k {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// HasConfirmedBooking implements media.BookingChecker: the join check for students.
func (s *Service) HasConfirmedBooking(ctx context.Context, classID, userID string) (bool, error) {
	return s.Store.HasConfirmedBooking(ctx, classID, userID)
}

// lockClass locks the class row; 404 problem if it does not exist.
func lockClass(ctx context.Context, tx *store.Store, id string) (store.Class, error) {
	c, err := tx.ClassByIDForUpdate(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, errClassNotFound
	}
	return c, err
}

func (s *Service) mail(ctx context.Context, tx *store.Store, to, kind string, data map[string]any) error {
	if err := s.Mailer.Enqueue(ctx, tx, email.Message{To: to, Kind: kind, Data: data}); err != nil {
		return fmt.Errorf("booking: %s email: %w", kind, err)
	}
	return nil
}

func (s *Service) classLink(classID string) string { return s.cfg.AppURL + "/classes/" + classID }

// LedgerChecks implements ledger.Checker: every class escrow equals what its bookings hold.
func (s *Service) LedgerChecks(ctx context.Context, st *store.Store) ([]string, []ledger.Discrepancy, error) {
	ds, err := st.EscrowDiscrepancies(ctx)
	if err != nil {
		return nil, nil, err
	}
	out := make([]ledger.Discrepancy, 0, len(ds))
	for _, d := range ds {
		out = append(out, ledger.Discrepancy(d))
	}
	return []string{"escrow_matches_bookings"}, out, nil
}
