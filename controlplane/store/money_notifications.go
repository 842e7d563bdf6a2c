package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification is an in-app notification record (waitlist offer, refund).
type Notification struct {
	ID        int64
	UserID    string
	Kind      string
	Title     string
	Body      string
	Data      map[string]any
	ReadAt    *time.Time
	CreatedAt time.Time
}

// InsertNotification stores n.
func (s *Store) InsertNotification(ctx context.Context, n Notification) error {
	data := n.Data
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("insert notification: %w", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO money_notifications (user_id, kind, title, body, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6)`, n.UserID, n.Kind, n.Title, n.Body, raw, n.CreatedAt)
	return wrap("insert notification", err)
}

// UserNotifications returns a user's notifications, newest first.
func (s *Store) UserNotifications(ctx context.Context, userID string, limit int) ([]Notification, error) {
	rows, err := s.db.Query(ctx, `SELECT id, user_id, kind, title, body, data, read_at, created_at
		FROM money_notifications WHERE user_id = $1 ORDER BY id DESC LIMIT $2`, userID, limit)
	if err != nil {
		return nil, wrap("user notifications", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		var raw []byte
		if err := r.Scan(&n.ID, &n.UserID, &n.Kind, &n.Title, &n.Body, &raw, &n.ReadAt, &n.CreatedAt); err != nil {
			return n, err
		}
		return n, json.Unmarshal(raw, &n.Data)
	})
	return out, wrap("user notifications", err)
}
