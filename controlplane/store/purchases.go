package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Purchase statuses.
const (
	PurchasePending   = "pending"
	PurchasePaid      = "paid"
	PurchaseFailed    = "failed"
	PurchaseCancelled = "cancelled"
)

// Purchase is a student buying a credit package through Stripe Checkout.
type Purchase struct {
	ID                    string
	UserID                string
	UserEmail             string
	UserName              string
	PackageID             string
	Credits               int
	AmountCents           int64
	Currency              string
	Status                string
	IdempotencyKey        string
	StripeSessionID       string
	StripePaymentIntentID string
	CheckoutURL           string
	FailureReason         string
	CreatedAt             time.Time
	UpdatedAt             time.Time
	PaidAt                *time.Time
}

const purchaseCols = `p.id, p.user_id, u.email, u.name, p.package_id, p.credits, p.amount_cents, p.currency, p.status,
	p.idempotency_key, coalesce(p.stripe_session_id, ''), coalesce(p.stripe_payment_intent_id, ''), p.checkout_url,
	p.failure_reason, p.created_at, p.updated_at, p.paid_at`

const purchaseFrom = ` FROM credit_purchases p JOIN users u ON u.id = p.user_id`

func scanPurchase(row pgx.Row) (Purchase, error) {
	var p Purchase
	err := row.Scan(&p.ID, &p.UserID, &p.UserEmail, &p.UserName, &p.PackageID, &p.Credits, &p.AmountCents, &p.Currency,
		&p.Status, &p.IdempotencyKey, &p.StripeSessionID, &p.StripePaymentIntentID, &p.CheckoutURL, &p.FailureReason,
		&p.CreatedAt, &p.UpdatedAt, &p.PaidAt)
	return p, err
}

// InsertPurchase stores a pending purchase unless the user already used the idempotency key;
// either way it returns the purchase and whether this call created it.
func (s *Store) InsertPurchase(ctx context.Context, p Purchase) (Purchase, bool, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO credit_purchases (user_id, package_id, credits, amount_cents, currency,
		idempotency_key, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $7)
		ON CONFLICT (user_id, idempotency_key) DO NOTHING RETURNING id`,
		p.UserID, p.PackageID, p.Credits, p.AmountCents, p.Currency, p.IdempotencyKey, p.CreatedAt).Scan(&id)
	if err == pgx.ErrNoRows {
		out, err := scanPurchase(s.db.QueryRow(ctx, `SELECT `+purchaseCols+purchaseFrom+`
			WHERE p.user_id = $1 AND p.idempotency_key = $2`, p.UserID, p.IdempotencyKey))
		return out, false, wrap("existing purchase", err)
	}
	if err != nil {
		return Purchase{}, false, wrap("insert purchase", err)
	}
	out, err := s.PurchaseByID(ctx, id)
	return out, true, err
}

// PurchaseByID returns a purchase.
func (s *Store) PurchaseByID(ctx context.Context, id string) (Purchase, error) {
	p, err := scanPurchase(s.db.QueryRow(ctx, `SELECT `+purchaseCols+purchaseFrom+` WHERE p.id = $1`, id))
	return p, wrap("purchase by id", err)
}

// PurchaseForUpdate returns a purchase and locks it.
func (s *Store) PurchaseForUpdate(ctx context.Context, id string) (Purchase, error) {
	p, err := scanPurchase(s.db.QueryRow(ctx, `SELECT `+purchaseCols+purchaseFrom+` WHERE p.id = $1 FOR UPDATE OF p`, id))
	return p, wrap("purchase for update", err)
}

// PurchaseBySession returns the purchase of a Checkout Session.
func (s *Store) PurchaseBySession(ctx context.Context, sessionID string) (Purchase, error) {
	p, err := scanPurchase(s.db.QueryRow(ctx, `SELECT `+purchaseCols+purchaseFrom+` WHERE p.stripe_session_id = $1`, sessionID))
	return p, wrap("purchase by session", err)
}

// SetPurchaseSession records the Checkout Session created for a purchase, unless one was
// recorded already (a concurrent retry); the stored purchase is returned either way.
func (s *Store) SetPurchaseSession(ctx context.Context, id, sessionID, paymentIntentID, url string, now time.Time) (Purchase, error) {
	_, err := s.db.Exec(ctx, `UPDATE credit_purchases SET stripe_session_id = $2, stripe_payment_intent_id = nullif($3, ''),
		checkout_url = $4, updated_at = $5 WHERE id = $1 AND stripe_session_id IS NULL`, id, sessionID, paymentIntentID, url, now)
	if err != nil {
		return Purchase{}, wrap("set purchase session", err)
	}
	return s.PurchaseByID(ctx, id)
}

// SetPurchaseStatus moves a purchase to status (with a failure reason for failed/cancelled).
func (s *Store) SetPurchaseStatus(ctx context.Context, id, status, reason string, now time.Time) error {
	return s.exec1(ctx, "set purchase status", `UPDATE credit_purchases SET status = $2, failure_reason = $3,
		updated_at = $4, paid_at = CASE WHEN $2 = 'paid' THEN $4 ELSE paid_at END
		WHERE id = $1`, id, status, reason, now)
}

// UserPurchases returns a user's purchases, newest first.
func (s *Store) UserPurchases(ctx context.Context, userID string, limit int) ([]Purchase, error) {
	rows, err := s.db.Query(ctx, `SELECT `+purchaseCols+purchaseFrom+` WHERE p.user_id = $1
		ORDER BY p.created_at DESC, p.id LIMIT $2`, userID, limit)
	if err != nil {
		return nil, wrap("user purchases", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Purchase, error) { return scanPurchase(r) })
	return out, wrap("user purchases", err)
}

// PurchaseDiscrepancies relates purchases to the ledger: a paid purchase has exactly its
// credits posted under "purchase:<id>", and nothing else was posted under that key.
func (s *Store) PurchaseDiscrepancies(ctx context.Context) ([]LedgerDiscrepancy, error) {
	rows, err := s.db.Query(ctx, `SELECT p.id::text, 'status ' || p.status || ', credited ' || coalesce(x.credited, 0) ||
			' of ' || p.credits
		FROM credit_purchases p LEFT JOIN (
			SELECT t.idempotency_key AS k, sum(e.amount) AS credited FROM ledger_transactions t
			JOIN ledger_entries e ON e.transaction_id = t.id JOIN ledger_accounts a ON a.id = e.account_id
			WHERE t.kind = 'purchase' AND a.kind = 'wallet' GROUP BY t.idempotency_key) x ON x.k = 'purchase:' || p.id
		WHERE (p.status = 'paid') <> (x.credited IS NOT NULL) OR (x.credited IS NOT NULL AND x.credited <> p.credits)`)
	if err != nil {
		return nil, wrap("purchase discrepancies", err)
	}
	return collectDiscrepancies(rows, "purchases_match_ledger")
}
