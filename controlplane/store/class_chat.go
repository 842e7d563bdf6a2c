package store

import (
	"context"
	"time"
)

// ChatMessage is one classroom chat message (table class_chat_messages).
type ChatMessage struct {
	ID        int64
	ClassID   string
	UserID    string
	UserName  string // joined from users
	Body      string
	ToTeacher bool // private: seen by the author, the class's teacher and admins only
	CreatedAt time.Time
}

// AddChatMessage stores m (ID, UserName and CreatedAt are filled in from the database;
// CreatedAt is m.CreatedAt when set).
func (s *Store) AddChatMessage(ctx context.Context, m ChatMessage) (ChatMessage, error) {
	if m.CreatedAt.IsZero() {
		m.CreatedAt = time.Now()
	}
	err := s.db.QueryRow(ctx, `INSERT INTO class_chat_messages (class_id, user_id, body, to_teacher, created_at)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING id, (SELECT name FROM users WHERE id = $2)`, m.ClassID, m.UserID, m.Body, m.ToTeacher, m.CreatedAt).
		Scan(&m.ID, &m.UserName)
	return m, wrap("add chat message", err)
}

// ChatMessages returns the newest limit messages of a class with ids above afterID, oldest
// first. Private messages are included only for viewers who may read them: withPrivate
// (the teacher, an admin) sees all of them, anyone else only their own.
func (s *Store) ChatMessages(ctx context.Context, classID, viewerID string, withPrivate bool, afterID int64, limit int) ([]ChatMessage, error) {
	rows, err := s.db.Query(ctx, `SELECT * FROM (
		SELECT m.id, m.class_id, m.user_id, u.name, m.body, m.to_teacher, m.created_at
		FROM class_chat_messages m JOIN users u ON u.id = m.user_id
		WHERE m.class_id = $1 AND m.id > $2 AND (NOT m.to_teacher OR $3 OR m.user_id = $4)
		ORDER BY m.id DESC LIMIT $5) newest ORDER BY id`, classID, afterID, withPrivate, viewerID, limit)
	if err != nil {
		return nil, wrap("chat messages", err)
	}
	defer rows.Close()
	out := []ChatMessage{}
	for rows.Next() {
		var m ChatMessage
		if err := rows.Scan(&m.ID, &m.ClassID, &m.UserID, &m.UserName, &m.Body, &m.ToTeacher, &m.CreatedAt); err != nil {
			return nil, wrap("scan chat message", err)
		}
		out = append(out, m)
	}
	return out, wrap("chat messages", rows.Err())
}
