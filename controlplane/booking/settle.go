package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/lifecycle"
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

// evaluate carries out what the class lifecycle (package lifecycle, docs/classes.md) says
// is due for a locked class at now:
//   - the no-show deadline passed without the teacher → full refunds, "no_show";
//   - the deadline passed with the teacher present → remember it (no refund check again);
//   - the window closed (End, or scheduled end + grace) SettleAfter ago → judge the teacher's
//     presence over the whole window: below the minimum → full refunds ("no_show"); below
//     EarlyEndPercent of the schedule → the untaught share refunded ("early_end") and the
//     rest settled; else the escrow settles to the teacher minus commission ("completed").
//
// A room that empties (room_finished) before the window closes decides nothing. It returns
// the outcome recorded now, or "" if nothing was due or it was already decided.
func (s *Service) evaluate(ctx context.Context, tx *store.Store, c store.Class, now time.Time) (string, error) {
	if c.Status != store.ClassScheduled {
		return "", nil
	}
	base := lifecycle.Class{Start: c.StartsAt, End: c.EndsAt(), EndedAt: c.EndedAt, TeacherShowed: c.TeacherShowed}
	if !lifecycle.MayBeDue(base, s.cfg.Lifecycle, now) {
		return "", nil
	}
	facts, err := tx.ClassFacts(ctx, c) // a recorded outcome makes Decide answer Settled
	if err != nil {
		return "", err
	}
	d := lifecycle.Decide(facts, s.cfg.Lifecycle, now)
	switch {
	case d.Action == lifecycle.MarkShowed:
		return "", tx.MarkTeacherShowed(ctx, c.ID)
	case d.Action == lifecycle.Refund || d.Action == lifecycle.Settle && d.Outcome == lifecycle.OutcomeNoShow:
		return store.OutcomeNoShow, s.noShow(ctx, tx, c, now, d)
	case d.Action == lifecycle.Settle:
		return d.Outcome, s.settle(ctx, tx, c, now, d)
	}
	return "", nil
}

// noShow refunds every confirmed booking in full under the no-show rule (d.Reason says why:
// absent at the deadline, or below the minimum teaching presence); the teacher earns nothing.
func (s *Service) noShow(ctx context.Context, tx *store.Store, c store.Class, now time.Time, d lifecycle.Decision) error {
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
			reason: d.Reason, credits: b.Held(), status: store.BookingRefunded}); err != nil {
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
	s.Log.Info("class outcome", "class_id", c.ID, "outcome", store.OutcomeNoShow, "refunded_credits", refunded,
		"taught_seconds", int(d.Taught.Seconds()))
	return err
}

// settle refunds missing/scheduled of each booking when d.Missing > 0 (early end), then
// moves the escrow left to the teacher's earnings minus the tier's commission.
func (s *Service) settle(ctx context.Context, tx *store.Store, c store.Class, now time.Time, d lifecycle.Decision) error {
	missing, scheduled := d.Missing, d.Scheduled
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
			reason: d.Reason, credits: n, status: store.BookingConfirmed}); err != nil {
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

// Sweep is the periodic pass (River job booking.sweep, every minute): it carries out what
// the class lifecycle says is due (a no-show at its deadline, settlement settle_after after
// a class's window closed; docs/classes.md), expires waitlist offers, passing seats on, and sends
// "starting soon" reminders. Idempotent; safe to run concurrently with webhooks and itself.
func (s *Service) Sweep(ctx context.Context) (SweepResult, error) {
	now := s.Now()
	res := SweepResult{Outcomes: map[string]int{}}
	p := s.cfg.Lifecycle
	ids, err := s.Store.ClassesDue(ctx, now, p.NoShowAfter, p.RejoinGrace, p.SettleAfter, 500)
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
