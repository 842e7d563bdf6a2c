package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Refund is money returned from one booking under one rule (at most one per booking and rule).
type Refund struct {
	ID         string
	BookingID  string
	ClassID    string
	StudentID  string
	Rule       string
	Reason     string
	Credits    int
	FeeCredits int
	ActorID    string
	CreatedAt  time.Time
	ClassTitle string
}

// InsertRefund stores r; ErrConflict if the booking was already refunded under r.Rule.
func (s *Store) InsertRefund(ctx context.Context, r Refund) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO refunds (booking_id, class_id, student_id, rule, reason, credits,
		fee_credits, actor_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
		r.BookingID, r.ClassID, r.StudentID, r.Rule, r.Reason, r.Credits, r.FeeCredits, nullUUID(r.ActorID), r.CreatedAt).Scan(&id)
	return id, wrap("insert refund", err)
}

// RefundFilter selects refunds, newest first.
type RefundFilter struct {
	Rule      string
	ClassID   string
	StudentID string
	Before    *time.Time // keyset cursor (created_at, id)
	BeforeID  string
	Limit     int
}

// ListRefunds returns refunds matching f.
func (s *Store) ListRefunds(ctx context.Context, f RefundFilter) ([]Refund, error) {
	rows, err := s.db.Query(ctx, `SELECT r.id, r.booking_id, r.class_id, r.student_id, r.rule, r.reason, r.credits,
		r.fee_credits, coalesce(r.actor_id::text, ''), r.created_at, c.title
		FROM refunds r JOIN classes c ON c.id = r.class_id
		WHERE ($1 = '' OR r.rule = $1) AND ($2::uuid IS NULL OR r.class_id = $2) AND ($3::uuid IS NULL OR r.student_id = $3)
		  AND ($4::timestamptz IS NULL OR (r.created_at, r.id) < ($4, $5::uuid))
		ORDER BY r.created_at DESC, r.id DESC LIMIT $6`,
		f.Rule, nullUUID(f.ClassID), nullUUID(f.StudentID), f.Before, nullUUID(f.BeforeID), f.Limit)
	if err != nil {
		return nil, wrap("list refunds", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Refund, error) {
		var x Refund
		err := r.Scan(&x.ID, &x.BookingID, &x.ClassID, &x.StudentID, &x.Rule, &x.Reason, &x.Credits, &x.FeeCredits,
			&x.ActorID, &x.CreatedAt, &x.ClassTitle)
		return x, err
	})
	return out, wrap("list refunds", err)
}

// RefundStat is the count and credits of refunds under one rule.
type RefundStat struct {
	Rule    string
	Count   int64
	Credits int64
	Fees    int64
}

// RefundStats returns per-rule totals of refunds created since since (nil: all time).
func (s *Store) RefundStats(ctx context.Context, since *time.Time) ([]RefundStat, error) {
	rows, err := s.db.Query(ctx, `SELECT rule, count(*), coalesce(sum(credits), 0), coalesce(sum(fee_credits), 0)
		FROM refunds WHERE $1::timestamptz IS NULL OR created_at >= $1 GROUP BY rule ORDER BY rule`, since)
	if err != nil {
		return nil, wrap("refund stats", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (RefundStat, error) {
		var x RefundStat
		return x, r.Scan(&x.Rule, &x.Count, &x.Credits, &x.Fees)
	})
	return out, wrap("refund stats", err)
}
