package classroom

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Question is a Q&A entry as the API returns it. In the room's data messages (topic
// atrium.question) VotedByMe is left out: it differs per person.
type Question struct {
	ID         string     `json:"id"`
	UserID     string     `json:"user_id"`
	Name       string     `json:"name"`
	Text       string     `json:"text"`
	Votes      int        `json:"votes"`
	VotedByMe  *bool      `json:"voted_by_me,omitempty"`
	Answered   bool       `json:"answered"`
	AnsweredAt *time.Time `json:"answered_at"`
	CreatedAt  time.Time  `json:"created_at"`
}

func viewQuestion(q store.Question, forViewer bool) Question {
	v := Question{ID: q.ID, UserID: q.UserID, Name: q.UserName, Text: q.Body, Votes: q.Votes, Answered: q.AnsweredAt != nil,
		AnsweredAt: q.AnsweredAt, CreatedAt: q.CreatedAt.UTC()}
	if forViewer {
		voted := q.VotedByMe
		v.VotedByMe = &voted
	}
	return v
}

// Questions returns the class's Q&A queue as a sees it: open questions first (most
// upvoted first, then oldest), answered ones after.
func (s *Service) Questions(ctx context.Context, a Actor, classID string) ([]Question, error) {
	if _, err := s.join(ctx, a, classID); err != nil {
		return nil, err
	}
	qs, err := s.Store.Questions(ctx, classID, a.UserID, historyLimit)
	if err != nil {
		return nil, err
	}
	out := make([]Question, 0, len(qs))
	for _, q := range qs {
		out = append(out, viewQuestion(q, true))
	}
	return out, nil
}

// Ask adds a question to the queue and relays it to the room.
func (s *Service) Ask(ctx context.Context, a Actor, classID, text string) (Question, error) {
	text, err := QuestionText(text)
	if err != nil {
		return Question{}, err
	}
	m, err := s.join(ctx, a, classID)
	if err != nil {
		return Question{}, err
	}
	if err := s.writable(m); err != nil {
		return Question{}, err
	}
	q, err := s.Store.AddQuestion(ctx, classID, a.UserID, text, s.Now())
	if err != nil {
		return Question{}, err
	}
	s.relayQuestion(ctx, classID, q)
	return viewQuestion(q, true), nil
}

// Upvote adds a's upvote to a question (once per person: a second upvote is a 409) and
// relays the new count. Answered questions take no more votes.
func (s *Service) Upvote(ctx context.Context, a Actor, classID, questionID string) (Question, error) {
	m, err := s.join(ctx, a, classID)
	if err != nil {
		return Question{}, err
	}
	if err := s.writable(m); err != nil {
		return Question{}, err
	}
	q, err := s.Store.Question(ctx, classID, questionID, a.UserID)
	if err != nil {
		return Question{}, notFound(err, "question")
	}
	if q.AnsweredAt != nil {
		return Question{}, problem.New(http.StatusConflict, problem.CodeConflict, "the question was answered already")
	}
	if err := s.Store.UpvoteQuestion(ctx, questionID, a.UserID, s.Now()); errors.Is(err, store.ErrConflict) {
		return Question{}, problem.New(http.StatusConflict, problem.CodeConflict, "you upvoted this question already")
	} else if err != nil {
		return Question{}, err
	}
	if q, err = s.Store.Question(ctx, classID, questionID, a.UserID); err != nil {
		return Question{}, notFound(err, "question")
	}
	s.relayQuestion(ctx, classID, q)
	return viewQuestion(q, true), nil
}

// Answer marks a question answered (the class's teacher or an admin) and relays it.
// Answering an answered question again changes nothing.
func (s *Service) Answer(ctx context.Context, a Actor, classID, questionID string) (Question, error) {
	m, err := s.join(ctx, a, classID)
	if err != nil {
		return Question{}, err
	}
	if err := moderate(m, "mark questions answered"); err != nil {
		return Question{}, err
	}
	if err := s.Store.AnswerQuestion(ctx, classID, questionID, a.UserID, s.Now()); err != nil {
		return Question{}, notFound(err, "question")
	}
	q, err := s.Store.Question(ctx, classID, questionID, a.UserID)
	if err != nil {
		return Question{}, notFound(err, "question")
	}
	s.relayQuestion(ctx, classID, q)
	return viewQuestion(q, true), nil
}

func (s *Service) relayQuestion(ctx context.Context, classID string, q store.Question) {
	s.relay(ctx, classID, TopicQuestion, map[string]any{"type": "question", "question": viewQuestion(q, false)}, nil)
}
