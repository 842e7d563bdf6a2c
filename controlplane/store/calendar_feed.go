package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// CalendarEntry is one class in a user's iCal feed: a booking (Role "student") or a class
// they teach (Role "teacher").
type CalendarEntry struct {
	Role      string
	BookingID string // "" for taught classes
	ClassID   string
	Title     string
	StartsAt  time.Time
	Minutes   int
	TimeZone  string
	Teacher   string
}

// CalendarEntries returns the user's confirmed bookings and scheduled taught classes that
// start after since, soonest first, at most limit.
func (s *Store) CalendarEntries(ctx context.Context, userID string, since time.Time, limit int) ([]CalendarEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT * FROM (
			SELECT 'student' AS role, b.id::text AS booking_id, c.id::text, c.title, c.starts_at, c.duration_minutes, c.time_zone, t.name
			FROM bookings b JOIN classes c ON c.id = b.class_id JOIN users t ON t.id = c.teacher_id
			WHERE b.student_id = $1 AND b.status = 'confirmed' AND c.status = 'scheduled' AND c.starts_at > $2
			UNION ALL
			SELECT 'teacher', '', c.id::text, c.title, c.starts_at, c.duration_minutes, c.time_zone, t.name
			FROM classes c JOIN users t ON t.id = c.teacher_id
			WHERE c.teacher_id = $1 AND c.status = 'scheduled' AND c.starts_at > $2
		) e ORDER BY starts_at LIMIT $3`, userID, since, limit)
	if err != nil {
		return nil, wrap("calendar entries", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[CalendarEntry])
	return out, wrap("calendar entries", err)
}

// ConfirmedStudents returns the ids of the students holding a confirmed booking in a class.
func (s *Store) ConfirmedStudents(ctx context.Context, classID string) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT student_id::text FROM bookings WHERE class_id = $1 AND status = 'confirmed'`, classID)
	if err != nil {
		return nil, wrap("confirmed students", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return out, wrap("confirmed students", err)
}
