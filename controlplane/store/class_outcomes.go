package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Class outcomes for money purposes.
const (
	OutcomeNoShow    = "no_show"
	OutcomeCancelled = "cancelled"
	OutcomeEarlyEnd  = "early_end"
	OutcomeCompleted = "completed"
)

// ClassOutcome is how a class ended and what settled to its teacher.
type ClassOutcome struct {
	ClassID           string
	Outcome           string
	TeacherID         string
	GrossCredits      int
	RefundedCredits   int
	CommissionCredits int
	TeacherCredits    int
	CreatedAt         time.Time
	// Class summary (reads only).
	ClassTitle    string
	ClassStartsAt time.Time
}

// InsertClassOutcome records o once; fresh is false if the class already has an outcome.
func (s *Store) InsertClassOutcome(ctx context.Context, o ClassOutcome) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO class_outcomes (class_id, outcome, teacher_id, gross_credits,
		refunded_credits, commission_credits, teacher_credits, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (class_id) DO NOTHING`, o.ClassID, o.Outcome, o.TeacherID, o.GrossCredits, o.RefundedCredits,
		o.CommissionCredits, o.TeacherCredits, o.CreatedAt)
	if err != nil {
		return false, wrap("insert class outcome", err)
	}
	return tag.RowsAffected() == 1, nil
}

// ClassOutcomeByID returns a class's outcome; ErrNotFound if it has none yet.
func (s *Store) ClassOutcomeByID(ctx context.Context, classID string) (ClassOutcome, error) {
	var o ClassOutcome
	err := s.db.QueryRow(ctx, `SELECT o.class_id, o.outcome, o.teacher_id, o.gross_credits, o.refunded_credits,
		o.commission_credits, o.teacher_credits, o.created_at, c.title, c.starts_at
		FROM class_outcomes o JOIN classes c ON c.id = o.class_id WHERE o.class_id = $1`, classID).
		Scan(&o.ClassID, &o.Outcome, &o.TeacherID, &o.GrossCredits, &o.RefundedCredits, &o.CommissionCredits,
			&o.TeacherCredits, &o.CreatedAt, &o.ClassTitle, &o.ClassStartsAt)
	return o, wrap("class outcome", err)
}

// TeacherOutcomes returns the teacher's settled classes, newest first.
func (s *Store) TeacherOutcomes(ctx context.Context, teacherID string, limit int) ([]ClassOutcome, error) {
	rows, err := s.db.Query(ctx, `SELECT o.class_id, o.outcome, o.teacher_id, o.gross_credits, o.refunded_credits,
		o.commission_credits, o.teacher_credits, o.created_at, c.title, c.starts_at
		FROM class_outcomes o JOIN classes c ON c.id = o.class_id WHERE o.teacher_id = $1
		ORDER BY c.starts_at DESC, o.class_id LIMIT $2`, teacherID, limit)
	if err != nil {
		return nil, wrap("teacher outcomes", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClassOutcome, error) {
		var o ClassOutcome
		err := r.Scan(&o.ClassID, &o.Outcome, &o.TeacherID, &o.GrossCredits, &o.RefundedCredits, &o.CommissionCredits,
			&o.TeacherCredits, &o.CreatedAt, &o.ClassTitle, &o.ClassStartsAt)
		return o, err
	})
	return out, wrap("teacher outcomes", err)
}

// ClassesDue returns ids of scheduled classes without an outcome that need a decision at now
// (docs/classes.md): the no-show deadline (start + noShowAfter) passed and the teacher was not
// yet found present, or the window closed (End, or scheduled end + grace) settleAfter ago.
// Package lifecycle makes the decision; this only narrows the candidates.
func (s *Store) ClassesDue(ctx context.Context, now time.Time, noShowAfter, grace, settleAfter time.Duration, limit int) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT c.id::text FROM classes c
		WHERE c.status = 'scheduled' AND NOT EXISTS (SELECT 1 FROM class_outcomes o WHERE o.class_id = c.id)
		  AND ((NOT c.teacher_showed AND c.starts_at + $2 <= $1)
		    OR least(c.ended_at, c.starts_at + make_interval(mins => c.duration_minutes) + $3) + $4 <= $1)
		ORDER BY c.starts_at LIMIT $5`, now, noShowAfter, grace, settleAfter, limit)
	if err != nil {
		return nil, wrap("classes due", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("classes due", err)
}
