package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Dispute is a student's complaint about a past booking, resolved by an admin.
type Dispute struct {
	ID             string
	BookingID      string
	StudentID      string
	Reason         string
	Status         string // open, refunded, rejected
	ResolutionNote string
	ResolvedBy     string
	ResolvedAt     *time.Time
	CreatedAt      time.Time
}

const disputeCols = `id, booking_id, student_id, reason, status, resolution_note, coalesce(resolved_by::text, ''),
	resolved_at, created_at`

func scanDispute(row pgx.Row) (Dispute, error) {
	var d Dispute
	err := row.Scan(&d.ID, &d.BookingID, &d.StudentID, &d.Reason, &d.Status, &d.ResolutionNote, &d.ResolvedBy,
		&d.ResolvedAt, &d.CreatedAt)
	return d, err
}

// InsertDispute opens a dispute; ErrConflict if the booking already has one.
func (s *Store) InsertDispute(ctx context.Context, bookingID, studentID, reason string, now time.Time) (Dispute, error) {
	d, err := scanDispute(s.db.QueryRow(ctx, `INSERT INTO disputes (booking_id, student_id, reason, created_at)
		VALUES ($1, $2, $3, $4) RETURNING `+disputeCols, bookingID, studentID, reason, now))
	return d, wrap("insert dispute", err)
}

// DisputeForUpdate returns a dispute and locks it.
func (s *Store) DisputeForUpdate(ctx context.Context, id string) (Dispute, error) {
	d, err := scanDispute(s.db.QueryRow(ctx, `SELECT `+disputeCols+` FROM disputes WHERE id = $1 FOR UPDATE`, id))
	return d, wrap("dispute for update", err)
}

// ResolveDispute closes an open dispute with status and note.
func (s *Store) ResolveDispute(ctx context.Context, id, status, note, adminID string, now time.Time) (Dispute, error) {
	d, err := scanDispute(s.db.QueryRow(ctx, `UPDATE disputes SET status = $2, resolution_note = $3, resolved_by = $4,
		resolved_at = $5 WHERE id = $1 AND status = 'open' RETURNING `+disputeCols, id, status, note, adminID, now))
	return d, wrap("resolve dispute", err)
}

// ListDisputes returns disputes in status ("" for all), oldest first.
func (s *Store) ListDisputes(ctx context.Context, status string, limit int) ([]Dispute, error) {
	rows, err := s.db.Query(ctx, `SELECT `+disputeCols+` FROM disputes WHERE $1 = '' OR status = $1
		ORDER BY created_at, id LIMIT $2`, status, limit)
	if err != nil {
		return nil, wrap("list disputes", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Dispute, error) { return scanDispute(r) })
	return out, wrap("list disputes", err)
}
