package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Attendance is one participant session in a class room.
type Attendance struct {
	ClassID         string
	UserID          string
	ParticipantSID  string
	JoinedAt        time.Time
	LeftAt          *time.Time
	DurationSeconds *int
}

// RecordJoin stores a participant joining; a duplicate (same class and participant sid) is ignored.
func (s *Store) RecordJoin(ctx context.Context, classID, userID, sid string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO attendance (class_id, user_id, participant_sid, joined_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (class_id, participant_sid) DO NOTHING`, classID, userID, sid, at)
	return wrap("record join", err)
}

// RecordLeave closes a participant session. A leave whose join never arrived is stored with
// joined_at = left_at, so the leave is not lost and the duration is a lower bound.
func (s *Store) RecordLeave(ctx context.Context, classID, userID, sid string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO attendance (class_id, user_id, participant_sid, joined_at, left_at, duration_seconds)
		VALUES ($1, $2, $3, $4, $4, 0)
		ON CONFLICT (class_id, participant_sid) DO UPDATE SET left_at = excluded.left_at,
		  duration_seconds = greatest(0, extract(epoch FROM excluded.left_at - attendance.joined_at))::integer
		WHERE attendance.left_at IS NULL`, classID, userID, sid, at)
	return wrap("record leave", err)
}

// CloseOpenAttendance ends every still-open session of a class at at (room finished).
func (s *Store) CloseOpenAttendance(ctx context.Context, classID string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE attendance SET left_at = $2,
		duration_seconds = greatest(0, extract(epoch FROM $2 - joined_at))::integer
		WHERE class_id = $1 AND left_at IS NULL`, classID, at)
	return wrap("close open attendance", err)
}

// ClassAttendance returns the sessions of a class in join order.
func (s *Store) ClassAttendance(ctx context.Context, classID string) ([]Attendance, error) {
	rows, err := s.db.Query(ctx, `SELECT class_id, user_id, participant_sid, joined_at, left_at, duration_seconds
		FROM attendance WHERE class_id = $1 ORDER BY joined_at, id`, classID)
	if err != nil {
		return nil, wrap("class attendance", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attendance, error) {
		var a Attendance
		err := r.Scan(&a.ClassID, &a.UserID, &a.ParticipantSID, &a.JoinedAt, &a.LeftAt, &a.DurationSeconds)
		return a, err
	})
	return out, wrap("class attendance", err)
}

// MarkWebhookEvent records a webhook delivery by id and reports whether it is new. Call it
// first inside the transaction that processes the event: a duplicate then does nothing.
func (s *Store) MarkWebhookEvent(ctx context.Context, id, source, event string) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO webhook_events (id, source, event) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, source+":"+id, source, event)
	if err != nil {
		return false, wrap("mark webhook event", err)
	}
	return tag.RowsAffected() == 1, nil
}
