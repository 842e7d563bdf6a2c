package store

import (
	"context"
	"time"
)

// Poll is a classroom poll with its results (tables class_polls and class_poll_votes), as
// seen by one viewer.
type Poll struct {
	ID        string
	ClassID   string
	CreatedBy string
	Question  string
	Options   []string
	Votes     []int // per option, same order as Options
	MyVote    *int  // the viewer's choice, nil if they have not voted
	ClosedAt  *time.Time
	CreatedAt time.Time
}

// Total is the number of votes cast.
func (p Poll) Total() int {
	n := 0
	for _, v := range p.Votes {
		n += v
	}
	return n
}

// pollCols reads a poll, its per-option counts (an array as long as options) and the
// viewer's ($2) vote.
const pollCols = `p.id, p.class_id, p.created_by, p.question, p.options,
	ARRAY(SELECT (SELECT count(*) FROM class_poll_votes v WHERE v.poll_id = p.id AND v.choice = i - 1)::int
		FROM generate_subscripts(p.options, 1) i ORDER BY i),
	(SELECT v.choice::int FROM class_poll_votes v WHERE v.poll_id = p.id AND v.user_id = $2),
	p.closed_at, p.created_at`

func scanPoll(row interface{ Scan(...any) error }) (Poll, error) {
	var p Poll
	err := row.Scan(&p.ID, &p.ClassID, &p.CreatedBy, &p.Question, &p.Options, &p.Votes, &p.MyVote, &p.ClosedAt, &p.CreatedAt)
	return p, err
}

// AddPoll stores a poll created at `at` and returns it.
func (s *Store) AddPoll(ctx context.Context, classID, userID, question string, options []string, at time.Time) (Poll, error) {
	var id string
	if err := s.db.QueryRow(ctx, `INSERT INTO class_polls (class_id, created_by, question, options, created_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, classID, userID, question, options, at).Scan(&id); err != nil {
		return Poll{}, wrap("add poll", err)
	}
	return s.Poll(ctx, classID, id, userID)
}

// Poll returns one poll of a class as viewerID sees it; ErrNotFound if the class has no
// such poll.
func (s *Store) Poll(ctx context.Context, classID, id, viewerID string) (Poll, error) {
	p, err := scanPoll(s.db.QueryRow(ctx, `SELECT `+pollCols+` FROM class_polls p WHERE p.id = $1 AND p.class_id = $3`,
		id, viewerID, classID))
	return p, wrap("poll", err)
}

// Polls returns a class's polls as viewerID sees them, newest first.
func (s *Store) Polls(ctx context.Context, classID, viewerID string, limit int) ([]Poll, error) {
	rows, err := s.db.Query(ctx, `SELECT `+pollCols+` FROM class_polls p WHERE p.class_id = $1
		ORDER BY p.created_at DESC, p.id LIMIT $3`, classID, viewerID, limit)
	if err != nil {
		return nil, wrap("polls", err)
	}
	defer rows.Close()
	out := []Poll{}
	for rows.Next() {
		p, err := scanPoll(rows)
		if err != nil {
			return nil, wrap("scan poll", err)
		}
		out = append(out, p)
	}
	return out, wrap("polls", rows.Err())
}

// VotePoll records userID's choice in an open poll: ErrConflict if they already voted in
// it, ErrNotFound if the poll is closed (checked in the same statement, so a vote racing the
// close is either counted before it or refused).
func (s *Store) VotePoll(ctx context.Context, pollID, userID string, choice int, at time.Time) error {
	return s.exec1(ctx, "vote poll", `INSERT INTO class_poll_votes (poll_id, user_id, choice, created_at)
		SELECT id, $2::uuid, $3::smallint, $4::timestamptz FROM class_polls WHERE id = $1 AND closed_at IS NULL`, pollID, userID, choice, at)
}

// ClosePoll stops a poll taking votes (closing it again keeps the first time). ErrNotFound
// if the class has no such poll.
func (s *Store) ClosePoll(ctx context.Context, classID, pollID string, at time.Time) error {
	return s.exec1(ctx, "close poll", `UPDATE class_polls SET closed_at = coalesce(closed_at, $3) WHERE id = $1 AND class_id = $2`,
		pollID, classID, at)
}
