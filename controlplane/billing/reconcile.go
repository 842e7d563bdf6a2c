package billing

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/stripe/stripe-go/v85"

	"github.com/atrium-live/atrium/controlplane/store"
)

// maxReconcileSessions bounds one run.
const maxReconcileSessions = 1000

// Reconcile compares Stripe's Checkout Sessions of the last ReconcileWindow with our
// purchases: a session Stripe reports paid whose purchase was never credited (a webhook lost
// for good) is credited now, under the same "purchase:<id>" key the webhook would have used;
// a purchase we credited that Stripe reports unpaid is reported for review. The run is stored
// and returned.
func (s *Service) Reconcile(ctx context.Context) (store.ReconciliationRun, error) {
	run := store.ReconciliationRun{StartedAt: s.Now()}
	params := &stripe.CheckoutSessionListParams{CreatedRange: &stripe.RangeQueryParams{
		GreaterThanOrEqual: s.Now().Add(-s.cfg.ReconcileWindow).Unix()}}
	params.Limit = stripe.Int64(100)
	for sess, err := range s.stripe.V1CheckoutSessions.List(ctx, params).All(ctx) {
		if err != nil {
			return run, fmt.Errorf("billing: reconcile: list sessions: %w", err)
		}
		if run.Checked >= maxReconcileSessions {
			break
		}
		run.Checked++
		pid := sess.Metadata["purchase_id"]
		if pid == "" {
			pid = sess.ClientReferenceID
		}
		if !uuidRE.MatchString(pid) {
			continue // not one of ours
		}
		p, err := s.Store.PurchaseByID(ctx, pid)
		if errors.Is(err, store.ErrNotFound) {
			run.Discrepancies = append(run.Discrepancies, store.LedgerDiscrepancy{Check: "unknown_purchase",
				Subject: sess.ID, Detail: "session names purchase " + pid + " which does not exist"})
			continue
		}
		if err != nil {
			return run, err
		}
		paid := sess.PaymentStatus == stripe.CheckoutSessionPaymentStatusPaid
		switch {
		case paid && p.Status != store.PurchasePaid && !paymentMatches(p, sess.AmountTotal, string(sess.Currency)):
			run.Discrepancies = append(run.Discrepancies, store.LedgerDiscrepancy{Check: "amount_mismatch", Subject: p.ID,
				Detail: fmt.Sprintf("paid %d %s in Stripe, the purchase is %d %s; not credited", sess.AmountTotal, sess.Currency,
					p.AmountCents, p.Currency)})
		case paid && p.Status != store.PurchasePaid:
			var credited bool
			err := s.Store.InTx(ctx, func(tx *store.Store) error {
				var err error
				credited, err = s.creditPurchase(ctx, tx, p.ID, "reconciliation:"+sess.ID, sess.AmountTotal)
				return err
			})
			if err != nil {
				run.Discrepancies = append(run.Discrepancies, store.LedgerDiscrepancy{Check: "missing_credit",
					Subject: p.ID, Detail: "paid in Stripe, crediting failed: " + err.Error()})
				continue
			}
			if credited {
				run.Fixed++
				run.Discrepancies = append(run.Discrepancies, store.LedgerDiscrepancy{Check: "missing_credit",
					Subject: p.ID, Detail: "paid in Stripe but not credited; credited now"})
			}
		case !paid && p.Status == store.PurchasePaid && p.StripeSessionID == sess.ID:
			run.Discrepancies = append(run.Discrepancies, store.LedgerDiscrepancy{Check: "credited_but_unpaid",
				Subject: p.ID, Detail: "credited, but Stripe reports payment status " + string(sess.PaymentStatus)})
		}
	}
	run.FinishedAt = s.Now()
	id, err := s.Store.InsertReconciliationRun(ctx, run)
	if err != nil {
		return run, err
	}
	run.ID = id
	if len(run.Discrepancies) > 0 {
		s.Log.Warn("reconciliation found discrepancies", "run_id", id, "count", len(run.Discrepancies), "fixed", run.Fixed)
	}
	return run, nil
}

// ReconciliationRuns returns the latest runs.
func (s *Service) ReconciliationRuns(ctx context.Context, limit int) ([]store.ReconciliationRun, error) {
	return s.Store.ReconciliationRuns(ctx, limit)
}

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
