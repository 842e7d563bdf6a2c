package classroom

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Poll is a poll with its live results as the API returns it. In the room's data messages
// (topic atrium.poll) MyVote is left out: it differs per person.
type Poll struct {
	ID        string       `json:"id"`
	Question  string       `json:"question"`
	Options   []PollOption `json:"options"`
	Total     int          `json:"total"`
	MyVote    *int         `json:"my_vote,omitempty"`
	Closed    bool         `json:"closed"`
	CreatedAt time.Time    `json:"created_at"`
}

// PollOption is one answer of a poll and how many chose it.
type PollOption struct {
	Text  string `json:"text"`
	Votes int    `json:"votes"`
}

func viewPoll(p store.Poll, forViewer bool) Poll {
	v := Poll{ID: p.ID, Question: p.Question, Options: make([]PollOption, len(p.Options)), Total: p.Total(),
		Closed: p.ClosedAt != nil, CreatedAt: p.CreatedAt.UTC()}
	for i, o := range p.Options {
		v.Options[i] = PollOption{Text: o}
		if i < len(p.Votes) {
			v.Options[i].Votes = p.Votes[i]
		}
	}
	if forViewer {
		v.MyVote = p.MyVote
	}
	return v
}

// Polls returns the class's polls with their results, newest first.
func (s *Service) Polls(ctx context.Context, a Actor, classID string) ([]Poll, error) {
	if _, err := s.join(ctx, a, classID); err != nil {
		return nil, err
	}
	ps, err := s.Store.Polls(ctx, classID, a.UserID, historyLimit)
	if err != nil {
		return nil, err
	}
	out := make([]Poll, 0, len(ps))
	for _, p := range ps {
		out = append(out, viewPoll(p, true))
	}
	return out, nil
}

// CreatePoll opens a poll (the class's teacher or an admin) and relays it to the room.
func (s *Service) CreatePoll(ctx context.Context, a Actor, classID, question string, options []string) (Poll, error) {
	question, options, err := PollSpec(question, options)
	if err != nil {
		return Poll{}, err
	}
	m, err := s.join(ctx, a, classID)
	if err != nil {
		return Poll{}, err
	}
	if err := moderate(m, "create polls"); err != nil {
		return Poll{}, err
	}
	if err := s.writable(m); err != nil {
		return Poll{}, err
	}
	p, err := s.Store.AddPoll(ctx, classID, a.UserID, question, options, s.Now())
	if err != nil {
		return Poll{}, err
	}
	s.relayPoll(ctx, classID, p)
	return viewPoll(p, true), nil
}

// Vote records a's choice (an option's index) in an open poll, once per person (a second
// vote is a 409), and relays the new results to the room.
func (s *Service) Vote(ctx context.Context, a Actor, classID, pollID string, choice int) (Poll, error) {
	m, err := s.join(ctx, a, classID)
	if err != nil {
		return Poll{}, err
	}
	if err := s.writable(m); err != nil {
		return Poll{}, err
	}
	p, err := s.Store.Poll(ctx, classID, pollID, a.UserID)
	if err != nil {
		return Poll{}, notFound(err, "poll")
	}
	if choice < 0 || choice >= len(p.Options) {
		return Poll{}, problem.Validation(map[string]string{"choice": "must be the number of one of the poll's options (0 to " +
			strconv.Itoa(len(p.Options)-1) + ")"})
	}
	if p.MyVote != nil {
		return Poll{}, problem.New(http.StatusConflict, problem.CodeConflict, "you voted in this poll already")
	}
	switch err := s.Store.VotePoll(ctx, pollID, a.UserID, choice, s.Now()); {
	case errors.Is(err, store.ErrConflict):
		return Poll{}, problem.New(http.StatusConflict, problem.CodeConflict, "you voted in this poll already")
	case errors.Is(err, store.ErrNotFound):
		return Poll{}, problem.New(http.StatusConflict, problem.CodeConflict, "the poll is closed")
	case err != nil:
		return Poll{}, err
	}
	if p, err = s.Store.Poll(ctx, classID, pollID, a.UserID); err != nil {
		return Poll{}, notFound(err, "poll")
	}
	s.relayPoll(ctx, classID, p)
	return viewPoll(p, true), nil
}

// ClosePoll stops a poll taking votes (the class's teacher or an admin) and relays it.
func (s *Service) ClosePoll(ctx context.Context, a Actor, classID, pollID string) (Poll, error) {
	m, err := s.join(ctx, a, classID)
	if err != nil {
		return Poll{}, err
	}
	if err := moderate(m, "close polls"); err != nil {
		return Poll{}, err
	}
	if err := s.Store.ClosePoll(ctx, classID, pollID, s.Now()); err != nil {
		return Poll{}, notFound(err, "poll")
	}
	p, err := s.Store.Poll(ctx, classID, pollID, a.UserID)
	if err != nil {
		return Poll{}, notFound(err, "poll")
	}
	s.relayPoll(ctx, classID, p)
	return viewPoll(p, true), nil
}

func (s *Service) relayPoll(ctx context.Context, classID string, p store.Poll) {
	s.relay(ctx, classID, TopicPoll, map[string]any{"type": "poll", "poll": viewPoll(p, false)}, nil)
}
