package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Payout statuses.
const (
	PayoutPending  = "pending"
	PayoutApproved = "approved"
	PayoutPaid     = "paid"
	PayoutRejected = "rejected"
)

// Payout is a teacher's request to be paid earnings through a Stripe transfer.
type Payout struct {
	ID               string
	TeacherID        string
	Credits          int
	AmountCents      int64
	Currency         string
	Destination      string
	Status           string
	StripeTransferID string
	LastError        string
	Note             string
	DecidedBy        string
	CreatedAt        time.Time
	DecidedAt        *time.Time
	PaidAt           *time.Time
}

const payoutCols = `id, teacher_id, credits, amount_cents, currency, destination, status, coalesce(stripe_transfer_id, ''),
	last_error, note, coalesce(decided_by::text, ''), created_at, decided_at, paid_at`

func scanPayout(row pgx.Row) (Payout, error) {
	var p Payout
	err := row.Scan(&p.ID, &p.TeacherID, &p.Credits, &p.AmountCents, &p.Currency, &p.Destination, &p.Status,
		&p.StripeTransferID, &p.LastError, &p.Note, &p.DecidedBy, &p.CreatedAt, &p.DecidedAt, &p.PaidAt)
	return p, err
}

// InsertPayout stores a pending payout.
func (s *Store) InsertPayout(ctx context.Context, p Payout) (Payout, error) {
	out, err := scanPayout(s.db.QueryRow(ctx, `INSERT INTO payouts (teacher_id, credits, amount_cents, currency,
		destination, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING `+payoutCols,
		p.TeacherID, p.Credits, p.AmountCents, p.Currency, p.Destination, p.CreatedAt))
	return out, wrap("insert payout", err)
}

// PayoutByID returns a payout.
func (s *Store) PayoutByID(ctx context.Context, id string) (Payout, error) {
	p, err := scanPayout(s.db.QueryRow(ctx, `SELECT `+payoutCols+` FROM payouts WHERE id = $1`, id))
	return p, wrap("payout by id", err)
}

// PayoutForUpdate returns a payout and locks it.
func (s *Store) PayoutForUpdate(ctx context.Context, id string) (Payout, error) {
	p, err := scanPayout(s.db.QueryRow(ctx, `SELECT `+payoutCols+` FROM payouts WHERE id = $1 FOR UPDATE`, id))
	return p, wrap("payout for update", err)
}

// DecidePayout moves a pending payout to approved or rejected.
func (s *Store) DecidePayout(ctx context.Context, id, status, note, adminID string, now time.Time) error {
	return s.exec1(ctx, "decide payout", `UPDATE payouts SET status = $2, note = $3, decided_by = $4, decided_at = $5
		WHERE id = $1 AND status = 'pending'`, id, status, note, adminID, now)
}

// MarkPayoutPaid records the Stripe transfer of an approved payout.
func (s *Store) MarkPayoutPaid(ctx context.Context, id, transferID string, now time.Time) error {
	return s.exec1(ctx, "mark payout paid", `UPDATE payouts SET status = 'paid', stripe_transfer_id = $2, paid_at = $3,
		last_error = '' WHERE id = $1 AND status = 'approved'`, id, transferID, now)
}

// MarkPayoutError records a failed transfer attempt.
func (s *Store) MarkPayoutError(ctx context.Context, id, msg string) error {
	if len(msg) > 500 {
		msg = msg[:500]
	}
	return s.exec1(ctx, "mark payout error", `UPDATE payouts SET last_error = $2 WHERE id = $1`, id, msg)
}

// ListPayouts returns payouts of a teacher ("" for all) in status ("" for all), newest first.
func (s *Store) ListPayouts(ctx context.Context, teacherID, status string, limit int) ([]Payout, error) {
	rows, err := s.db.Query(ctx, `SELECT `+payoutCols+` FROM payouts WHERE ($1::uuid IS NULL OR teacher_id = $1)
		AND ($2 = '' OR status = $2) ORDER BY created_at DESC, id LIMIT $3`, nullUUID(teacherID), status, limit)
	if err != nil {
		return nil, wrap("list payouts", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Payout, error) { return scanPayout(r) })
	return out, wrap("list payouts", err)
}

// PaidOutCredits sums a teacher's paid payouts.
func (s *Store) PaidOutCredits(ctx context.Context, teacherID string) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT coalesce(sum(credits), 0) FROM payouts WHERE teacher_id = $1 AND status = 'paid'`,
		teacherID).Scan(&n)
	return n, wrap("paid out credits", err)
}

// PayoutDiscrepancies relates reserved credits to payouts: each teacher's payout_reserved
// balance must equal their pending and approved payouts.
func (s *Store) PayoutDiscrepancies(ctx context.Context) ([]LedgerDiscrepancy, error) {
	rows, err := s.db.Query(ctx, `WITH open AS (SELECT teacher_id, sum(credits) AS c FROM payouts
			WHERE status IN ('pending', 'approved') GROUP BY teacher_id),
		res AS (SELECT owner_id AS teacher_id, balance FROM ledger_accounts WHERE kind = 'payout_reserved')
		SELECT coalesce(o.teacher_id, r.teacher_id)::text, 'reserved ' || coalesce(r.balance, 0) || ', open payouts ' || coalesce(o.c, 0)
		FROM open o FULL JOIN res r ON r.teacher_id = o.teacher_id WHERE coalesce(r.balance, 0) <> coalesce(o.c, 0)`)
	if err != nil {
		return nil, wrap("payout discrepancies", err)
	}
	return collectDiscrepancies(rows, "reserved_matches_payouts")
}
