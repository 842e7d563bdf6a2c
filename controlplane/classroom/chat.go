package classroom

import (
	"context"
	"time"

	"github.com/atrium-live/atrium/controlplane/store"
)

// Message is a chat message as the API returns it and the room receives it (topic
// atrium.chat, {"type": "chat", "message": Message}).
type Message struct {
	ID        int64     `json:"id"`
	UserID    string    `json:"user_id"`
	Name      string    `json:"name"`
	Text      string    `json:"text"`
	ToTeacher bool      `json:"to_teacher"`
	CreatedAt time.Time `json:"created_at"`
}

func viewMessage(m store.ChatMessage) Message {
	return Message{ID: m.ID, UserID: m.UserID, Name: m.UserName, Text: m.Body, ToTeacher: m.ToTeacher, CreatedAt: m.CreatedAt.UTC()}
}

// Chat returns the class's chat as a sees it, oldest first: the newest 500 messages after
// afterID (0: from the start). Private messages to the teacher are shown to their author,
// the teacher and admins only.
func (s *Service) Chat(ctx context.Context, a Actor, classID string, afterID int64) ([]Message, error) {
	m, err := s.join(ctx, a, classID)
	if err != nil {
		return nil, err
	}
	ms, err := s.Store.ChatMessages(ctx, classID, a.UserID, m.moderator, afterID, historyLimit)
	if err != nil {
		return nil, err
	}
	out := make([]Message, 0, len(ms))
	for _, x := range ms {
		out = append(out, viewMessage(x))
	}
	return out, nil
}

// PostChat stores a message and relays it to the room: to everyone, or with toTeacher to
// the teacher and the author only. The teacher's own messages always go to everyone.
func (s *Service) PostChat(ctx context.Context, a Actor, classID, text string, toTeacher bool) (Message, error) {
	text, err := ChatText(text)
	if err != nil {
		return Message{}, err
	}
	m, err := s.join(ctx, a, classID)
	if err != nil {
		return Message{}, err
	}
	if err := s.writable(m); err != nil {
		return Message{}, err
	}
	if a.UserID == m.class.TeacherID {
		toTeacher = false
	}
	stored, err := s.Store.AddChatMessage(ctx, store.ChatMessage{ClassID: classID, UserID: a.UserID, Body: text, ToTeacher: toTeacher,
		CreatedAt: s.Now()})
	if err != nil {
		return Message{}, err
	}
	v := viewMessage(stored)
	var to []string
	if toTeacher {
		to = []string{m.class.TeacherID, a.UserID}
	}
	s.relay(ctx, classID, TopicChat, map[string]any{"type": "chat", "message": v}, to)
	return v, nil
}
