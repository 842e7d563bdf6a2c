package store

import (
	"context"
	"time"
)

// Rating is a student's rating of a class.
type Rating struct {
	ClassID   string
	StudentID string
	TeacherID string
	Stars     int
	Comment   string
	CreatedAt time.Time
}

// AddRating stores r and adds it to the teacher's aggregate, atomically; ErrConflict if the
// student already rated the class.
func (s *Store) AddRating(ctx context.Context, r Rating) (Rating, error) {
	err := s.InTx(ctx, func(tx *Store) error {
		if err := tx.db.QueryRow(ctx, `INSERT INTO class_ratings (class_id, student_id, teacher_id, stars, comment)
			VALUES ($1, $2, $3, $4, $5) RETURNING created_at`, r.ClassID, r.StudentID, r.TeacherID, r.Stars, r.Comment).
			Scan(&r.CreatedAt); err != nil {
			return wrap("add rating", err)
		}
		return tx.exec1(ctx, "add rating to teacher", `UPDATE users SET rating_sum = rating_sum + $2,
			rating_count = rating_count + 1 WHERE id = $1`, r.TeacherID, r.Stars)
	})
	return r, err
}

// HasAttended reports whether userID was in the class room at some point.
func (s *Store) HasAttended(ctx context.Context, classID, userID string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM attendance WHERE class_id = $1 AND user_id = $2)`,
		classID, userID).Scan(&ok)
	return ok, wrap("has attended", err)
}
