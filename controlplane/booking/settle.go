package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/store"
)

// ClassCancelled implements catalog.ClassHooks: a teacher (or admin) cancellation refunds
// every confirmed booking in full, at any time, and closes the waitlist. It runs in the
// cancellation's transaction with the class row locked.
func (s *Service) ClassCancelled(ctx context.Context, tx *store.Store, c store.Class) error {
	now := s.Now()
	if err := tx.CloseWaitlist(ctx, c.ID, now); err != nil {
		return err
	}
	if _, err := tx.ClassOutcomeByID(ctx, c.ID); err == nil {
		return nil // refunded or settled already
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	bookings, err := tx.ClassBookingsForUpdate(ctx, c.ID, store.BookingConfirmed)
	if err != nil {
		return err
	}
	reason := "the class was cancelled"
	if c.CancelReason != "" {
		reason += ": " + c.CancelReason
	}
	refunded := 0
	for _, b := range bookings {
		// Every booked student hears of it (and gets the calendar cancellation), paid or not.
		if err := s.cancellationNotice(ctx, tx, b, "The class has been cancelled.", c.CancelReason, now); err != nil {
			return err
		}
		if b.Held() <= 0 {
			continue
		}
		if _, err := s.refund(ctx, tx, refundOrder{booking: b, class: c, rule: RuleClassCancelled, reason: reason,
			credits: b.Held(), status: store.BookingCancelled}); err != nil {
			return err
		}
		refunded += b.Held()
	}
	_, err = tx.InsertClassOutcome(ctx, store.ClassOutcome{ClassID: c.ID, Outcome: store.OutcomeCancelled,
		TeacherID: c.TeacherID, RefundedCredits: refunded, CreatedAt: now})
	s.Metrics.outcome(store.OutcomeCancelled)
	return err
}

// LiveKitEvent implements media.EventHooks: after each room event the class's money outcome
// is re-evaluated in the webhook's transaction (class row locked), so duplicate or
// concurrent deliveries serialize and the outcome is decided once.
func (s *Service) LiveKitEvent(ctx context.Context, tx *store.Store, event string, c store.Class) error {
	switch event {
	case webhook.EventRoomStarted, webhook.EventRoomFinished, webhook.EventParticipantJoined, webhook.EventParticipantLeft:
		_, err := s.evaluate(ctx, tx, c, s.Now())
		return err
	}
	return nil
}

// evaluate decides the money outcome of a locked class at now, if it is due:
//   - the teacher did not join within NoShowAfter of the start → full refunds, "no_show";
//   - the room finished (or the class ended SettleAfter ago) after the teacher taught: if it
//     ran less than EarlyEndPercent of the schedule, the missing share is refunded
//     ("early_end"), then the escrow left settles to the teacher minus commission.
//
// It returns the outcome recorded now, or "" if nothing was due or it was already decided.
func (s *Service) evaluate(ctx context.Context, tx *store.Store, c store.Class, now time.Time) (string, error) {
	if c.Status != store.ClassScheduled {
		return "", nil
	}
	if _, err := tx.ClassOutcomeByID(ctx, c.ID); err == nil {
		return "", nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	deadline := c.StartsAt.Add(s.cfg.NoShowAfter)
	teacherLate := c.TeacherJoinedAt == nil || c.TeacherJoinedAt.After(deadline)
	if teacherLate {
		if now.Before(deadline) {
			return "", nil
		}
		return store.OutcomeNoShow, s.noShow(ctx, tx, c, now)
	}
	var ended time.Time
	switch {
	case c.RoomFinishedAt != nil && !c.RoomFinishedAt.Before(c.StartsAt):
		ended = *c.RoomFinishedAt
	case !now.Before(c.EndsAt().Add(s.cfg.SettleAfter)):
		ended = c.EndsAt()
	default:
		return "", nil
	}
	began := c.StartsAt
	if c.TeacherJoinedAt.After(began) {
		began = *c.TeacherJoinedAt
	}
	scheduled := c.EndsAt().Sub(c.StartsAt)
	ran := max(ended.Sub(began), 0)
	if ran*100 < scheduled*time.Duration(s.cfg.EarlyEndPercent) {
		return store.OutcomeEarlyEnd, s.settle(ctx, tx, c, now, scheduled-ran, scheduled, ran)
	}
	return store.OutcomeCompleted, s.settle(ctx, tx, c, now, 0, scheduled, ran)
}

func (s *Service) noShow(ctx context.Context, tx *store.Store, c store.Class, now time.Time) error {
	bookings, err := tx.ClassBookingsForUpdate(ctx, c.ID, store.BookingConfirmed)
	if err != nil {
		return err
	}
	refunded := 0
	for _, b := range bookings {
		if b.Held() <= 0 {
			continue
		}
		if _, err := s.refund(ctx, tx, refundOrder{booking: b, class: c, rule: RuleTeacherNoShow,
			reason:  fmt.Sprintf("the teacher did not join within %s of the start", s.cfg.NoShowAfter),
			credits: b.Held(), status: store.BookingRefunded}); err != nil {
			return err
		}
		refunded += b.Held()
	}
	if err := tx.CloseWaitlist(ctx, c.ID, now); err != nil {
		return err
	}
	_, err = tx.InsertClassOutcome(ctx, store.ClassOutcome{ClassID: c.ID, Outcome: store.OutcomeNoShow,
		TeacherID: c.TeacherID, RefundedCredits: refunded, CreatedAt: now})
	s.Metrics.outcome(store.OutcomeNoShow)
	s.Log.Info("class outcome", "class_id", c.ID, "outcome", store.OutcomeNoShow, "refunded_credits", refunded)
	return err
}

// settle refunds missing/scheduled of each booking when missing > 0 (early end), then moves
// the escrow left to the teacher's earnings minus the tier's commission.
func (s *Service) settle(ctx context.Context, tx *store.Store, c store.Class, now time.Time, missing, scheduled, ran time.Duration) error {
	bookings, err := tx.ClassBookingsForUpdate(ctx, c.ID, store.BookingConfirmed, store.BookingRefunded, store.BookingCancelled)
	if err != nil {
		return err
	}
	gross, refunded := 0, 0
	outcome := store.OutcomeCompleted
	if missing > 0 {
		outcome = store.OutcomeEarlyEnd
	}
	for _, b := range bookings {
		gross += b.Held() // what the escrow holds for it before this settlement
		if missing == 0 || b.Status != store.BookingConfirmed || b.Held() <= 0 {
			continue
		}
		n := int(int64(b.Held()) * int64(missing/time.Second) / int64(scheduled/time.Second))
		if _, err := s.refund(ctx, tx, refundOrder{booking: b, class: c, rule: RuleEarlyEnd,
			reason:  fmt.Sprintf("the class ran %d of its %d scheduled minutes", int(ran.Minutes()), int(scheduled.Minutes())),
			credits: n, status: store.BookingConfirmed}); err != nil {
			return err
		}
		refunded += n
	}
	escrow := ledger.EscrowOf(c.ID)
	left, err := ledger.Lock(ctx, tx, escrow)
	if err != nil {
		return err
	}
	commission := left * int64(s.cfg.CommissionPercent[c.Tier]) / 100
	if _, err := ledger.Post(ctx, tx, ledger.Posting{Key: "settle:class:" + c.ID, Kind: "settlement",
		Memo: "Settled " + c.Title, At: now, Metadata: map[string]any{"class_id": c.ID, "outcome": outcome},
		Entries: []ledger.Entry{{Account: escrow, Amount: -left}, {Account: ledger.EarningsOf(c.TeacherID), Amount: left - commission},
			{Account: ledger.RevenueAccount, Amount: commission}}}); err != nil {
		return err
	}
	if err := tx.CloseWaitlist(ctx, c.ID, now); err != nil {
		return err
	}
	_, err = tx.InsertClassOutcome(ctx, store.ClassOutcome{ClassID: c.ID, Outcome: outcome, TeacherID: c.TeacherID,
		GrossCredits: gross, RefundedCredits: refunded, CommissionCredits: int(commission),
		TeacherCredits: int(left - commission), CreatedAt: now})
	s.Metrics.outcome(outcome)
	s.Log.Info("class outcome", "class_id", c.ID, "outcome", outcome, "refunded_credits", refunded,
		"teacher_credits", left-commission, "commission_credits", commission)
	return err
}

// SweepResult counts what one Sweep did.
type SweepResult struct {
	Outcomes       map[string]int
	OfferClasses   int
	ClassesChecked int
	Reminders      int
}

// Sweep is the periodic pass (River job booking.sweep, every minute): it decides the
// outcome of classes that are due (no-show deadline passed, room finished, or ended long
// ago without a finish event), expires waitlist offers, passing seats on, and sends
// "starting soon" reminders. Idempotent; safe to run concurrently with webhooks and itself.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	now := s.Now()
	res := SweepResult{Outcomes: map[string]int{}}
	ids, err := s.Store.ClassesDue(ctx, now, s.cfg.NoShowAfter, s.cfg.SettleAfter, 500)
	if err != nil {
		return res, err
	}
	var errs []error
	for _, id := range ids {
		var outcome string
		err := s.Store.InTx(ctx, func(tx *store.Store) error {
			c, err := lockClass(ctx, tx, id)
			if err != nil {
				return err
			}
			outcome, err = s.evaluate(ctx, tx, c, now)
			return err
		})
		if err != nil {
			// One bad class must not stop the others; the job reports the error and retries.
			errs = append(errs, fmt.Errorf("booking: sweep class %s: %w", id, err))
			continue
		}
		res.ClassesChecked++
		if outcome != "" {
			res.Outcomes[outcome]++
		}
	}
	if res.OfferClasses, err = s.expireOffers(ctx, now); err != nil {
		errs = append(errs, err)
	}
	if res.Reminders, err = s.sendReminders(ctx, now); err != nil {
		errs = append(errs, err)
	}
	return res, errors.Join(errs...)
}
