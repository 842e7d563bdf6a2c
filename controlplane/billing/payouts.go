package billing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/stripe/stripe-go/v85"

	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

var accountRE = regexp.MustCompile(`^acct_[A-Za-z0-9]{1,64}$`)

// Payout error codes.
const (
	CodePayoutNotPending = "payout_not_pending"
)

// RequestPayout reserves credits of a teacher's earnings for a payout to their Stripe
// connected account (destination acct_...). The credits leave the available balance at once
// (earnings → payout_reserved) so they cannot be spent twice while an admin decides.
func (s *Service) RequestPayout(ctx context.Context, teacherID string, credits int, destination string) (store.Payout, error) {
	f := problem.Field{}
	if credits < s.cfg.MinPayoutCredits || credits > 10_000_000 {
		f.Add("credits", fmt.Sprintf("must be from %d to 10000000", s.cfg.MinPayoutCredits))
	}
	destination = strings.TrimSpace(destination)
	if !accountRE.MatchString(destination) {
		f.Add("destination", "must be a Stripe connected account id (acct_...)")
	}
	if err := f.Err(); err != nil {
		return store.Payout{}, err
	}
	var out store.Payout
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		earn := ledger.EarningsOf(teacherID)
		bal, err := ledger.Lock(ctx, tx, earn)
		if err != nil {
			return err
		}
		if bal < int64(credits) {
			return ledger.InsufficientProblem(int64(credits), bal)
		}
		now := s.Now()
		if out, err = tx.InsertPayout(ctx, store.Payout{TeacherID: teacherID, Credits: credits,
			AmountCents: int64(credits) * s.cfg.PayoutCentsPerCredit, Currency: s.cfg.Currency, Destination: destination,
			CreatedAt: now}); err != nil {
			return err
		}
		if _, err := ledger.Post(ctx, tx, ledger.Transfer("payout:"+out.ID+":reserve", "payout_reserve", "Payout requested",
			now, earn, ledger.ReservedOf(teacherID), int64(credits), map[string]any{"payout_id": out.ID})); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: teacherID, Action: "payout.requested", TargetType: "payout",
			TargetID: out.ID, Details: map[string]any{"credits": credits}})
	})
	return out, err
}

// Payouts lists payouts of a teacher ("" for all) in status ("" for all).
func (s *Service) Payouts(ctx context.Context, teacherID, status string, limit int) ([]store.Payout, error) {
	return s.Store.ListPayouts(ctx, teacherID, status, limit)
}

// ApprovePayout approves a pending payout and pays it through a Stripe transfer. The
// transfer job is queued in the approval's transaction, so a failed or interrupted transfer
// is retried; the transfer's idempotency key and the ledger key make the retries harmless.
func (s *Service) ApprovePayout(ctx context.Context, adminID, id, note string) (store.Payout, error) {
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		if err := s.decide(ctx, tx, adminID, id, store.PayoutApproved, note); err != nil {
			return err
		}
		_, err := s.Jobs.InsertTx(ctx, tx.Tx(), PayoutTransferArgs{PayoutID: id}, nil)
		return err
	})
	if err != nil {
		return store.Payout{}, err
	}
	if err := s.payOut(ctx, id); err != nil {
		s.Log.Warn("payout transfer failed; the job will retry", "payout_id", id, "err", err)
	}
	return s.Store.PayoutByID(ctx, id)
}

// RejectPayout rejects a pending payout and returns its credits to the teacher's earnings.
func (s *Service) RejectPayout(ctx context.Context, adminID, id, note string) (store.Payout, error) {
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		if err := s.decide(ctx, tx, adminID, id, store.PayoutRejected, note); err != nil {
			return err
		}
		p, err := tx.PayoutByID(ctx, id)
		if err != nil {
			return err
		}
		_, err = ledger.Post(ctx, tx, ledger.Transfer("payout:"+id+":release", "payout_release", "Payout rejected",
			s.Now(), ledger.ReservedOf(p.TeacherID), ledger.EarningsOf(p.TeacherID), int64(p.Credits),
			map[string]any{"payout_id": id}))
		return err
	})
	if err != nil {
		return store.Payout{}, err
	}
	return s.Store.PayoutByID(ctx, id)
}

func (s *Service) decide(ctx context.Context, tx *store.Store, adminID, id, status, note string) error {
	p, err := tx.PayoutForUpdate(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return problem.New(http.StatusNotFound, problem.CodeNotFound, "no such payout")
	}
	if err != nil {
		return err
	}
	if p.Status != store.PayoutPending {
		return problem.New(http.StatusConflict, CodePayoutNotPending, "this payout was already decided")
	}
	if len(note) > 1000 {
		return problem.Validation(map[string]string{"note": "must be at most 1000 characters"})
	}
	if err := tx.DecidePayout(ctx, id, status, note, adminID, s.Now()); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, store.AuditEntry{ActorID: adminID, Action: "payout." + status, TargetType: "payout",
		TargetID: id, Details: map[string]any{"credits": p.Credits}})
}

// payOut makes the Stripe transfer of an approved payout and records it (reserved → cash).
// Idempotent: a paid payout is left alone, and Stripe sees the same idempotency key.
func (s *Service) payOut(ctx context.Context, id string) error {
	p, err := s.Store.PayoutByID(ctx, id)
	if err != nil {
		return err
	}
	if p.Status != store.PayoutApproved {
		return nil
	}
	params := &stripe.TransferCreateParams{Amount: stripe.Int64(p.AmountCents), Currency: stripe.String(p.Currency),
		Destination: stripe.String(p.Destination), Metadata: map[string]string{"payout_id": p.ID}}
	params.SetIdempotencyKey("atrium-payout-" + p.ID)
	tr, err := s.stripe.V1Transfers.Create(ctx, params)
	if err != nil {
		if merr := s.Store.MarkPayoutError(ctx, id, err.Error()); merr != nil {
			s.Log.Error("billing: record payout error", "payout_id", id, "err", merr)
		}
		return fmt.Errorf("billing: transfer for payout %s: %w", id, err)
	}
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		p, err := tx.PayoutForUpdate(ctx, id)
		if err != nil || p.Status != store.PayoutApproved {
			return err
		}
		now := s.Now()
		if err := tx.MarkPayoutPaid(ctx, id, tr.ID, now); err != nil {
			return err
		}
		s.Metrics.payout()
		_, err = ledger.Post(ctx, tx, ledger.Transfer("payout:"+id+":paid", "payout_paid", "Payout paid", now,
			ledger.ReservedOf(p.TeacherID), ledger.CashAccount, int64(p.Credits),
			map[string]any{"payout_id": id, "stripe_transfer_id": tr.ID, "amount_cents": p.AmountCents}))
		return err
	})
}
