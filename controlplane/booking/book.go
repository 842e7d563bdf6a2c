package booking

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// BookInput is a booking request.
type BookInput struct {
	ClassID        string
	IdempotencyKey string
	DiscountCode   string // optional
}

// BookResult is the booking and whether this call created it (false: an earlier request
// with the same Idempotency-Key did, and this is its booking).
type BookResult struct {
	Booking store.Booking
	Created bool
}

// Book takes a seat in a class and moves its price (after any discount) from the student's
// wallet to the class escrow, all in one transaction under the class row lock: no oversell,
// no double booking, and a repeated Idempotency-Key returns the first booking. Seats offered
// to waitlisted students are held for them. A short wallet is a 402 with the shortfall; a
// discount code is only consumed if the booking commits.
func (s *Service) Book(ctx context.Context, a Actor, in BookInput) (res BookResult, err error) {
	if a.Role != "student" {
		return BookResult{}, problem.New(http.StatusForbidden, problem.CodeForbidden, "only students can book classes")
	}
	if !ValidIdempotencyKey(in.IdempotencyKey) {
		return BookResult{}, IdempotencyKeyProblem()
	}
	code := strings.TrimSpace(in.DiscountCode)
	if len(code) > 64 {
		return BookResult{}, problem.Validation(map[string]string{"discount_code": "is not valid for this class"})
	}
	defer func() {
		switch p, ok := problem.As(err); {
		case err == nil && res.Created:
			s.Metrics.booking("created")
		case err == nil:
			s.Metrics.booking("replayed")
		case ok:
			s.Metrics.booking(p.Code)
		default:
			s.Metrics.booking("error")
		}
	}()
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		c, err := lockClass(ctx, tx, in.ClassID)
		if err != nil {
			return err
		}
		// Under the class lock, an earlier request with the same key has committed or never will.
		prior, err := tx.BookingsForRequest(ctx, a.UserID, c.ID, in.IdempotencyKey)
		if err != nil {
			return err
		}
		for _, prev := range prior {
			if prev.IdempotencyKey != in.IdempotencyKey {
				continue
			}
			if prev.ClassID != c.ID {
				return problem.New(http.StatusUnprocessableEntity, problem.CodeConflict,
					"this Idempotency-Key was already used for another class")
			}
			res = BookResult{Booking: prev}
			return nil
		}
		now := s.Now()
		if c.Status != store.ClassScheduled {
			return problem.New(http.StatusConflict, problem.CodeClassCancelled, "the class was cancelled")
		}
		if !now.Before(c.StartsAt) {
			return problem.New(http.StatusConflict, CodeClassStarted, "the class has already started")
		}
		if c.TeacherID == a.UserID {
			return problem.New(http.StatusForbidden, problem.CodeForbidden, "you teach this class")
		}
		if len(prior) > 0 {
			return problem.New(http.StatusConflict, CodeAlreadyBooked, "you already booked this class")
		}
		offers, err := tx.ActiveOffers(ctx, c.ID, a.UserID, now)
		if err != nil {
			return err
		}
		if c.Capacity-c.SeatsTaken-offers <= 0 {
			e := problem.New(http.StatusConflict, CodeClassFull, "the class is full; you can join its waitlist")
			e.Details = map[string]any{"waitlist": "/api/v1/classes/" + c.ID + "/waitlist"}
			return e
		}
		price := c.PriceCredits
		var discountID string
		if code != "" {
			d, err := tx.RedeemDiscountCode(ctx, c.TeacherID, c.ID, code, now)
			if errors.Is(err, store.ErrNotFound) {
				return problem.Validation(map[string]string{"discount_code": "is not valid for this class"})
			}
			if err != nil {
				return err
			}
			price, discountID = d.Apply(price), d.ID
		}
		wallet := ledger.WalletOf(a.UserID)
		balance, err := ledger.Lock(ctx, tx, wallet)
		if err != nil {
			return err
		}
		if balance < int64(price) {
			return ledger.InsufficientProblem(int64(price), balance)
		}
		if ok, err := tx.TakeSeat(ctx, c.ID); err != nil {
			return err
		} else if !ok {
			return problem.New(http.StatusConflict, CodeClassFull, "the class is full; you can join its waitlist")
		}
		id, err := tx.InsertBooking(ctx, store.NewBooking{ClassID: c.ID, StudentID: a.UserID, PriceCredits: c.PriceCredits,
			PaidCredits: price, DiscountCodeID: discountID, IdempotencyKey: in.IdempotencyKey, At: now})
		if errors.Is(err, store.ErrConflict) {
			return problem.New(http.StatusConflict, CodeAlreadyBooked, "you already booked this class")
		}
		if err != nil {
			return err
		}
		if _, err := ledger.Post(ctx, tx, ledger.Transfer("booking:"+id, "booking", "Booked "+c.Title, now,
			wallet, ledger.EscrowOf(c.ID), int64(price), map[string]any{"booking_id": id, "class_id": c.ID})); err != nil {
			if errors.Is(err, ledger.ErrInsufficient) {
				return ledger.InsufficientProblem(int64(price), balance)
			}
			return err
		}
		if err := tx.MarkWaitlistBooked(ctx, c.ID, a.UserID, now); err != nil {
			return err
		}
		b, err := tx.BookingByID(ctx, id)
		if err != nil {
			return err
		}
		res = BookResult{Booking: b, Created: true}
		if err := tx.InsertNotification(ctx, store.Notification{UserID: a.UserID, Kind: notify.KindBooking,
			Title: "Booked: " + c.Title, Body: "Your seat is booked for " + fmtIn(c.StartsAt, b.StudentTimeZone) + ".",
			Data: map[string]any{"class_id": c.ID, "booking_id": id}, CreatedAt: now}); err != nil {
			return err
		}
		if err := s.notifyLowCredits(ctx, tx, a.UserID, balance, balance-int64(price), now); err != nil {
			return err
		}
		ics, err := s.invite(b, false, now)
		if err != nil {
			return err
		}
		if err := s.Mailer.Enqueue(ctx, tx, email.Message{To: b.StudentEmail, Kind: email.KindBookingConfirmation,
			Data: map[string]any{"Name": b.StudentName, "ClassTitle": c.Title, "StartsAt": fmtIn(c.StartsAt, b.StudentTimeZone),
				"Credits": price, "Link": s.classLink(c.ID)}, Attachments: []store.Attachment{ics}}); err != nil {
			return fmt.Errorf("booking: confirmation email: %w", err)
		}
		return nil
	})
	return res, err
}

// Booking returns one of the caller's bookings (admins: anyone's); 404 for others', so ids
// of other users' bookings reveal nothing.
func (s *Service) Booking(ctx context.Context, a Actor, id string) (store.Booking, error) {
	b, err := s.Store.BookingByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && b.StudentID != a.UserID && a.Role != "admin") {
		return store.Booking{}, errBookingNotFound
	}
	return b, err
}

// MyBookings returns the student's upcoming bookings (soonest first) and past ones (latest first).
func (s *Service) MyBookings(ctx context.Context, a Actor, limit int) (upcoming, past []store.Booking, err error) {
	now := s.Now()
	if upcoming, err = s.Store.StudentBookings(ctx, a.UserID, true, now, limit); err != nil {
		return nil, nil, err
	}
	past, err = s.Store.StudentBookings(ctx, a.UserID, false, now, limit)
	return upcoming, past, err
}

// Cancel is a student cancelling their booking: a full refund at least CancelCutoff before
// the start, a refund minus LateCancelFeePercent after that, nothing once the class started
// (409). The seat goes back and is offered to the waitlist.
func (s *Service) Cancel(ctx context.Context, a Actor, bookingID string) (store.Refund, error) {
	var out store.Refund
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		b, err := tx.BookingByID(ctx, bookingID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && b.StudentID != a.UserID) {
			return errBookingNotFound
		}
		if err != nil {
			return err
		}
		c, err := lockClass(ctx, tx, b.ClassID)
		if err != nil {
			return err
		}
		if b, err = tx.BookingByIDForUpdate(ctx, bookingID); err != nil {
			return err
		}
		if b.Status != store.BookingConfirmed {
			return problem.New(http.StatusConflict, CodeBookingNotActive, "this booking is already cancelled or refunded")
		}
		now := s.Now()
		if !now.Before(c.StartsAt) {
			return problem.New(http.StatusConflict, CodeClassStarted, "the class has started; bookings can no longer be cancelled")
		}
		held := b.Held()
		fee, reason := 0, "cancelled by you more than "+s.cfg.CancelCutoff.String()+" before the start"
		if c.StartsAt.Sub(now) < s.cfg.CancelCutoff {
			fee = held * s.cfg.LateCancelFeePercent / 100
			reason = "cancelled by you within " + s.cfg.CancelCutoff.String() + " of the start (late cancellation fee)"
		}
		out, err = s.refund(ctx, tx, refundOrder{booking: b, class: c, rule: RuleStudentCancellation, reason: reason,
			credits: held - fee, fee: fee, status: store.BookingCancelled, actor: a.UserID})
		if err != nil {
			return err
		}
		if err := tx.FreeSeat(ctx, c.ID); err != nil {
			return err
		}
		c.SeatsTaken--
		if err := s.cancellationNotice(ctx, tx, b, "Your booking is cancelled.", reason+".", now); err != nil {
			return err
		}
		return s.offerSeats(ctx, tx, c, now)
	})
	return out, err
}
