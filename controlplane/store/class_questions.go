package store

import (
	"context"
	"time"
)

// Question is one question of a class's Q&A queue (tables class_questions and
// class_question_votes), with its vote count as seen by one viewer.
type Question struct {
	ID         string
	ClassID    string
	UserID     string
	UserName   string
	Body       string
	Votes      int
	VotedByMe  bool // the viewer the question was read for has upvoted it
	AnsweredAt *time.Time
	CreatedAt  time.Time
}

const questionCols = `q.id, q.class_id, q.user_id, u.name, q.body,
	(SELECT count(*) FROM class_question_votes v WHERE v.question_id = q.id)::int AS votes,
	EXISTS (SELECT 1 FROM class_question_votes v WHERE v.question_id = q.id AND v.user_id = $2) AS voted,
	q.answered_at, q.created_at`

func scanQuestion(row interface{ Scan(...any) error }) (Question, error) {
	var q Question
	err := row.Scan(&q.ID, &q.ClassID, &q.UserID, &q.UserName, &q.Body, &q.Votes, &q.VotedByMe, &q.AnsweredAt, &q.CreatedAt)
	return q, err
}

// AddQuestion stores a question asked at `at` and returns it as its author sees it.
func (s *Store) AddQuestion(ctx context.Context, classID, userID, body string, at time.Time) (Question, error) {
	var id string
	if err := s.db.QueryRow(ctx, `INSERT INTO class_questions (class_id, user_id, body, created_at) VALUES ($1, $2, $3, $4)
		RETURNING id`, classID, userID, body, at).Scan(&id); err != nil {
		return Question{}, wrap("add question", err)
	}
	return s.Question(ctx, classID, id, userID)
}

// Question returns one question of a class as viewerID sees it; ErrNotFound if the class
// has no such question.
func (s *Store) Question(ctx context.Context, classID, id, viewerID string) (Question, error) {
	q, err := scanQuestion(s.db.QueryRow(ctx, `SELECT `+questionCols+`
		FROM class_questions q JOIN users u ON u.id = q.user_id WHERE q.id = $1 AND q.class_id = $3`, id, viewerID, classID))
	return q, wrap("question", err)
}

// Questions returns a class's questions as viewerID sees them: open ones first, most
// upvoted first, then oldest first; answered ones after, most recently answered first.
func (s *Store) Questions(ctx context.Context, classID, viewerID string, limit int) ([]Question, error) {
	rows, err := s.db.Query(ctx, `SELECT * FROM (SELECT `+questionCols+`
		FROM class_questions q JOIN users u ON u.id = q.user_id WHERE q.class_id = $1) qs
		ORDER BY answered_at IS NOT NULL, answered_at DESC, votes DESC, created_at LIMIT $3`, classID, viewerID, limit)
	if err != nil {
		return nil, wrap("questions", err)
	}
	defer rows.Close()
	out := []Question{}
	for rows.Next() {
		q, err := scanQuestion(rows)
		if err != nil {
			return nil, wrap("scan question", err)
		}
		out = append(out, q)
	}
	return out, wrap("questions", rows.Err())
}

// UpvoteQuestion records userID's upvote of a question; ErrConflict if they already did.
func (s *Store) UpvoteQuestion(ctx context.Context, questionID, userID string, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO class_question_votes (question_id, user_id, created_at) VALUES ($1, $2, $3)`,
		questionID, userID, at)
	return wrap("upvote question", err)
}

// AnswerQuestion marks a question answered by userID at `at`; answering it again keeps the
// first answer's time. ErrNotFound if the class has no such question.
func (s *Store) AnswerQuestion(ctx context.Context, classID, questionID, userID string, at time.Time) error {
	return s.exec1(ctx, "answer question", `UPDATE class_questions SET answered_at = coalesce(answered_at, $3),
		answered_by = coalesce(answered_by, $4) WHERE id = $1 AND class_id = $2`, questionID, classID, at, userID)
}
