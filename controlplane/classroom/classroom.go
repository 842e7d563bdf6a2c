// Package classroom keeps a class's live-room conversation: the chat (so late joiners see
// the history), the Q&A queue and the polls. Everything is stored in PostgreSQL with the
// class (deleted with it) and relayed to the room as LiveKit data messages sent by the
// server, so browser and SDK-built clients alike see it live (topics and payloads in
// docs/classroom.md). Only the class's teacher, its booked students and admins take part.
//
// A *Service is safe for concurrent use.
package classroom

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/media"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Data message topics the server sends on (docs/classroom.md).
const (
	TopicChat     = "atrium.chat"
	TopicQuestion = "atrium.question"
	TopicPoll     = "atrium.poll"
)

// Limits on what people write. The database checks the same bounds.
const (
	MaxChatRunes     = 1000
	MaxQuestionRunes = 500
	MaxPollRunes     = 300
	MaxOptionRunes   = 100
	MinPollOptions   = 2
	MaxPollOptions   = 6
	// historyLimit bounds what one GET returns (the newest messages, questions or polls).
	historyLimit = 500
)

// BookingChecker says whether a student holds a confirmed booking for a class.
type BookingChecker interface {
	HasConfirmedBooking(ctx context.Context, classID, userID string) (bool, error)
}

// Relay delivers a data message to a class room; media.Service implements it. to empty
// means everyone in the room.
type Relay interface {
	SendData(ctx context.Context, classID, topic string, payload []byte, to []string) error
}

// Windows tells when a class's room is open; media.Service implements it. Posting is
// refused once the window has closed (reading stays possible).
type Windows interface {
	Window(startsAt time.Time, minutes int, status string) media.JoinWindow
}

// Deps are the service's collaborators; all but Now are required.
type Deps struct {
	Store    *store.Store
	Bookings BookingChecker
	Relay    Relay
	Windows  Windows
	Log      *slog.Logger
	Now      func() time.Time
}

// Service stores and relays classroom chat, questions and polls.
type Service struct{ Deps }

// New returns a Service.
func New(d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{Deps: d}
}

// Actor is who calls.
type Actor struct {
	UserID string
	Role   string
}

// member is the caller's place in a class.
type member struct {
	class     store.Class
	moderator bool // the class's teacher or an admin
}

// relayTimeout bounds how long a request waits for the SFU to take a data message: the
// message is stored already, and clients reload what they missed.
const relayTimeout = 3 * time.Second

// join checks that a may take part in the class: its teacher, an admin, or a student with
// a confirmed booking.
func (s *Service) join(ctx context.Context, a Actor, classID string) (member, error) {
	c, err := s.Store.ClassByID(ctx, classID)
	if errors.Is(err, store.ErrNotFound) {
		return member{}, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	}
	if err != nil {
		return member{}, fmt.Errorf("classroom: class: %w", err)
	}
	if c.TeacherID == a.UserID || a.Role == "admin" {
		return member{class: c, moderator: true}, nil
	}
	ok, err := s.Bookings.HasConfirmedBooking(ctx, classID, a.UserID)
	if err != nil {
		return member{}, fmt.Errorf("classroom: booking check: %w", err)
	}
	if !ok {
		return member{}, problem.New(http.StatusForbidden, problem.CodeNotBooked, "only the teacher and booked students take part in this class")
	}
	return member{class: c}, nil
}

// writable refuses writes to a cancelled class and to one whose room has closed.
func (s *Service) writable(m member) error {
	c := m.class
	w := s.Windows.Window(c.StartsAt, c.DurationMinutes, c.Status)
	if w.Never {
		return problem.New(http.StatusConflict, problem.CodeClassCancelled, "the class was cancelled")
	}
	if !s.Now().Before(w.Until) {
		return problem.New(http.StatusConflict, problem.CodeClassEnded, "the class has ended")
	}
	return nil
}

// moderate refuses callers who are not the class's teacher or an admin.
func moderate(m member, what string) error {
	if !m.moderator {
		return problem.New(http.StatusForbidden, problem.CodeForbidden, "only the class's teacher may "+what)
	}
	return nil
}

// relay sends v as JSON to the room; a failure is logged, not returned: the change is
// stored, and clients see it on their next load.
func (s *Service) relay(ctx context.Context, classID, topic string, v any, to []string) {
	payload, err := json.Marshal(v)
	if err != nil {
		s.Log.Error("classroom: encode data message", "topic", topic, "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), relayTimeout)
	defer cancel()
	if err := s.Relay.SendData(ctx, classID, topic, payload, to); err != nil {
		s.Log.Warn("classroom: relay to the room failed; clients will load it from the API", "class_id", classID, "topic", topic, "err", err)
	}
}

// notFound maps store.ErrNotFound to a 404 naming what is missing.
func notFound(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return problem.New(http.StatusNotFound, problem.CodeNotFound, "no such "+what+" in this class")
	}
	return fmt.Errorf("classroom: %s: %w", what, err)
}
