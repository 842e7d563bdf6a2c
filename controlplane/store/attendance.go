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
	RoomSID         string // the room incarnation (LiveKit room sid); "" if unknown
	JoinedAt        time.Time
	LeftAt          *time.Time
	DurationSeconds *int
}

// RecordJoin stores a participant joining room incarnation roomSID; a duplicate (same class
// and participant sid) is ignored.
func (s *Store) RecordJoin(ctx context.Context, classID, userID, sid, roomSID string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO attendance (class_id, user_id, participant_sid, room_sid, joined_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (class_id, participant_sid) DO NOTHING`, classID, userID, sid, roomSID, at)
	return wrap("record join", err)
}

// RecordLeave closes a participant session. A leave whose join never arrived is stored with
// joined_at = left_at, so the leave is not lost and the duration is a lower bound.
func (s *Store) RecordLeave(ctx context.Context, classID, userID, sid, roomSID string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO attendance (class_id, user_id, participant_sid, room_sid, joined_at, left_at, duration_seconds)
		VALUES ($1, $2, $3, $4, $5, $5, 0)
		ON CONFLICT (class_id, participant_sid) DO UPDATE SET left_at = excluded.left_at,
		  duration_seconds = greatest(0, extract(epoch FROM excluded.left_at - attendance.joined_at))::integer
		WHERE attendance.left_at IS NULL`, classID, userID, sid, roomSID, at)
	return wrap("record leave", err)
}

// CloseOpenAttendance ends the still-open sessions of a class's room incarnation roomSID at
// at (that room finished). Sessions of another incarnation (a room on a node that died) stay
// open: the lifecycle rules judge them (docs/classes.md). An empty roomSID closes every
// open session, as before room sids were stored.
func (s *Store) CloseOpenAttendance(ctx context.Context, classID, roomSID string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE attendance SET left_at = greatest(joined_at, $2),
		duration_seconds = greatest(0, extract(epoch FROM $2 - joined_at))::integer
		WHERE class_id = $1 AND left_at IS NULL AND ($3 = '' OR room_sid = $3 OR room_sid = '')`, classID, at, roomSID)
	return wrap("close open attendance", err)
}

// InRoom reports whether the user has a session in the class room with no leave recorded.
func (s *Store) InRoom(ctx context.Context, classID, userID string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM attendance WHERE class_id = $1 AND user_id = $2
		AND left_at IS NULL)`, classID, userID).Scan(&ok)
	return ok, wrap("in room", err)
}

// ClassAttendance returns the sessions of a class in join order.
func (s *Store) ClassAttendance(ctx context.Context, classID string) ([]Attendance, error) {
	rows, err := s.db.Query(ctx, `SELECT class_id, user_id, participant_sid, room_sid, joined_at, left_at, duration_seconds
		FROM attendance WHERE class_id = $1 ORDER BY joined_at, id`, classID)
	if err != nil {
		return nil, wrap("class attendance", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Attendance, error) {
		var a Attendance
		err := r.Scan(&a.ClassID, &a.UserID, &a.ParticipantSID, &a.RoomSID, &a.JoinedAt, &a.LeftAt, &a.DurationSeconds)
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
