package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// Reads for a class's roster (teacher and admins only; the caller checks).

// ClassBookings returns every booking of a class (any status) with its student, oldest first.
func (s *Store) ClassBookings(ctx context.Context, classID string) ([]Booking, error) {
	rows, err := s.db.Query(ctx, `SELECT `+bookingCols+bookingFrom+` WHERE b.class_id = $1
		ORDER BY b.created_at, b.id`, classID)
	return collectBookings(rows, err, "class bookings")
}

// ClassWaitlist returns a class's waiting and offered entries in queue order.
func (s *Store) ClassWaitlist(ctx context.Context, classID string) ([]WaitlistEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT `+waitCols+waitFrom+` WHERE w.class_id = $1 AND w.status IN ('waiting', 'offered')
		ORDER BY w.created_at, w.id`, classID)
	if err != nil {
		return nil, wrap("class waitlist", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (WaitlistEntry, error) { return scanWait(r) })
	return out, wrap("class waitlist", err)
}
