package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/atrium-live/atrium/controlplane/lifecycle"
)

// Lifecycle marks on classes (docs/classes.md). Each is set once; the caller holds the
// class row lock (booking and media lock it before deciding).

// EndClass records the explicit "End class for everyone" at at by userID. It reports false
// (and changes nothing) when the class was already ended.
func (s *Store) EndClass(ctx context.Context, id, userID string, at time.Time) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE classes SET ended_at = $2, ended_by = $3, updated_at = now()
		WHERE id = $1 AND ended_at IS NULL`, id, at, userID)
	if err != nil {
		return false, wrap("end class", err)
	}
	return tag.RowsAffected() == 1, nil
}

// MarkTeacherShowed records that the no-show deadline passed with the teacher present.
func (s *Store) MarkTeacherShowed(ctx context.Context, id string) error {
	_, err := s.db.Exec(ctx, `UPDATE classes SET teacher_showed = true WHERE id = $1`, id)
	return wrap("mark teacher showed", err)
}

// MarkRoomClosed records that the control plane closed the class room after its window.
func (s *Store) MarkRoomClosed(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE classes SET room_closed_at = $2 WHERE id = $1 AND room_closed_at IS NULL`, id, at)
	return wrap("mark room closed", err)
}

// SetClassLock locks (locked) or unlocks the class room; by is recorded with a lock.
func (s *Store) SetClassLock(ctx context.Context, id string, locked bool, by string, at time.Time) error {
	var err error
	if locked {
		_, err = s.db.Exec(ctx, `UPDATE classes SET locked_at = coalesce(locked_at, $2), locked_by = coalesce(locked_by, $3::uuid)
			WHERE id = $1`, id, at, by)
	} else {
		_, err = s.db.Exec(ctx, `UPDATE classes SET locked_at = NULL, locked_by = NULL WHERE id = $1`, id)
	}
	return wrap("set class lock", err)
}

// ClassesToClose returns ids of classes whose room should be closed at now and has not been:
// a room was used, and the window closed (End, or scheduled end + grace), or the money
// outcome is already recorded (a no-show), or the class was cancelled. Classes that started
// more than two days ago are left alone (the SFU closes empty rooms itself; retrying forever
// against an unreachable SFU helps nobody).
func (s *Store) ClassesToClose(ctx context.Context, now time.Time, grace time.Duration, limit int) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT c.id::text FROM classes c
		WHERE c.room_closed_at IS NULL AND c.starts_at > $1 - interval '2 days'
		  AND (c.room_started_at IS NOT NULL OR EXISTS (SELECT 1 FROM attendance a WHERE a.class_id = c.id))
		  AND (least(c.ended_at, c.starts_at + make_interval(mins => c.duration_minutes) + $2) <= $1
		    OR c.status = 'cancelled'
		    OR EXISTS (SELECT 1 FROM class_outcomes o WHERE o.class_id = c.id))
		ORDER BY c.starts_at LIMIT $3`, now, grace, limit)
	if err != nil {
		return nil, wrap("classes to close", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("classes to close", err)
}

// ClassFacts loads what the lifecycle rules (package lifecycle) judge about c: its schedule,
// End, recorded outcome and every attendance session.
func (s *Store) ClassFacts(ctx context.Context, c Class) (lifecycle.Class, error) {
	f := lifecycle.Class{Start: c.StartsAt, End: c.EndsAt(), Cancelled: c.Status == ClassCancelled,
		EndedAt: c.EndedAt, TeacherShowed: c.TeacherShowed, TeacherID: c.TeacherID}
	o, err := s.ClassOutcomeByID(ctx, c.ID)
	switch {
	case err == nil:
		f.Outcome = o.Outcome
		f.Cancelled = f.Cancelled || o.Outcome == OutcomeCancelled
	case !errors.Is(err, ErrNotFound):
		return f, err
	}
	as, err := s.ClassAttendance(ctx, c.ID)
	if err != nil {
		return f, err
	}
	f.Sessions = make([]lifecycle.Session, 0, len(as))
	for _, a := range as {
		f.Sessions = append(f.Sessions, lifecycle.Session{UserID: a.UserID, RoomSID: a.RoomSID, Joined: a.JoinedAt, Left: a.LeftAt})
	}
	return f, nil
}
