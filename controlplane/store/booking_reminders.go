package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ReminderWindow is one reminder offset and the next nearer one (0 for the last): the
// reminder at Offset is due from start-Offset until start-Next.
type ReminderWindow struct {
	Offset time.Duration
	Next   time.Duration
}

// ClaimReminders records, and returns, up to limit confirmed bookings of scheduled classes
// whose reminder at w.Offset is due at now: the class starts within Offset, the nearer
// reminder is not due yet, and the booking existed when this reminder fell due (a student
// who books 2 h before the start gets the 1 h reminder, not the 24 h one). The primary key
// of booking_reminders (booking, offset) is what makes each reminder happen once, even when
// sweeps race; call it in the transaction that queues the reminders.
func (s *Store) ClaimReminders(ctx context.Context, now time.Time, w ReminderWindow, limit int) ([]Booking, error) {
	off, next := int(w.Offset/time.Minute), int(w.Next/time.Minute)
	rows, err := s.db.Query(ctx, `INSERT INTO booking_reminders (booking_id, offset_minutes, sent_at)
		SELECT b.id, $2::integer, $1::timestamptz FROM bookings b JOIN classes c ON c.id = b.class_id
		WHERE b.status = 'confirmed' AND c.status = 'scheduled'
		  AND c.starts_at > $1 AND c.starts_at <= $1 + make_interval(mins => $2)
		  AND c.starts_at - make_interval(mins => $3) > $1
		  AND b.created_at <= c.starts_at - make_interval(mins => $2)
		  AND NOT EXISTS (SELECT 1 FROM booking_reminders r WHERE r.booking_id = b.id AND r.offset_minutes = $2)
		ORDER BY c.starts_at LIMIT $4
		ON CONFLICT (booking_id, offset_minutes) DO NOTHING
		RETURNING booking_id`, now, off, next, limit)
	if err != nil {
		return nil, wrap("claim reminders", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("claim reminders", err)
	}
	out := make([]Booking, 0, len(ids))
	for _, id := range ids {
		b, err := s.BookingByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}
