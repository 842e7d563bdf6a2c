package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Notification is an in-app notification record (booking, cancellation, waitlist offer,
// class starting, recording ready, refund, low credits; docs/notifications.md).
type Notification struct {
	ID     int64
	UserID string
	Kind   string
	Title  string
	Body   string
	Data   map[string]any
	// DedupeKey, when set, makes a second insert with the same key for the user a no-op.
	DedupeKey string
	ReadAt    *time.Time
	CreatedAt time.Time
}

// InsertNotification stores n unless the user turned off in-app notifications of its kind
// (notification_preferences) or a record with its DedupeKey exists. A stored record goes to
// the notification sink once the transaction commits.
func (s *Store) InsertNotification(ctx context.Context, n Notification) error {
	data := n.Data
	if data == nil {
		data = map[string]any{}
	}
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("insert notification: %w", err)
	}
	var dedupe *string
	if n.DedupeKey != "" {
		dedupe = &n.DedupeKey
	}
	err = s.db.QueryRow(ctx, `INSERT INTO money_notifications (user_id, kind, title, body, data, created_at, dedupe_key)
		SELECT $1::uuid, $2::text, $3::text, $4::text, $5::jsonb, $6::timestamptz, $7::text
		WHERE NOT EXISTS (SELECT 1 FROM notification_preferences p WHERE p.user_id = $1 AND p.kind = $2 AND NOT p.in_app)
		ON CONFLICT (user_id, dedupe_key) WHERE dedupe_key IS NOT NULL DO NOTHING
		RETURNING id`, n.UserID, n.Kind, n.Title, n.Body, raw, n.CreatedAt, dedupe).Scan(&n.ID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil // turned off, or already there
	}
	if err != nil {
		return wrap("insert notification", err)
	}
	n.Data = data
	if s.sink != nil {
		sink := s.sink
		s.AfterCommit(func() { sink(n) })
	}
	return nil
}

const notificationCols = `id, user_id, kind, title, body, data, read_at, created_at`

func collectNotifications(rows pgx.Rows, err error, op string) ([]Notification, error) {
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Notification, error) {
		var n Notification
		var raw []byte
		if err := r.Scan(&n.ID, &n.UserID, &n.Kind, &n.Title, &n.Body, &raw, &n.ReadAt, &n.CreatedAt); err != nil {
			return n, err
		}
		return n, json.Unmarshal(raw, &n.Data)
	})
	return out, wrap(op, err)
}

// UserNotifications returns a user's notifications, newest first.
func (s *Store) UserNotifications(ctx context.Context, userID string, limit int) ([]Notification, error) {
	rows, err := s.db.Query(ctx, `SELECT `+notificationCols+`
		FROM money_notifications WHERE user_id = $1 ORDER BY id DESC LIMIT $2`, userID, limit)
	return collectNotifications(rows, err, "user notifications")
}

// NotificationsAfter returns a user's notifications with id > after, oldest first (a
// reconnecting stream's catch-up).
func (s *Store) NotificationsAfter(ctx context.Context, userID string, after int64, limit int) ([]Notification, error) {
	rows, err := s.db.Query(ctx, `SELECT `+notificationCols+`
		FROM money_notifications WHERE user_id = $1 AND id > $2 ORDER BY id LIMIT $3`, userID, after, limit)
	return collectNotifications(rows, err, "notifications after")
}

// UnreadNotifications counts a user's unread notifications.
func (s *Store) UnreadNotifications(ctx context.Context, userID string) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM money_notifications WHERE user_id = $1 AND read_at IS NULL`, userID).Scan(&n)
	return n, wrap("unread notifications", err)
}

// MarkNotificationRead marks one of the user's notifications read (idempotent); ErrNotFound
// if the user has no such notification.
func (s *Store) MarkNotificationRead(ctx context.Context, userID string, id int64, now time.Time) error {
	return s.exec1(ctx, "mark notification read", `UPDATE money_notifications SET read_at = coalesce(read_at, $3)
		WHERE id = $2 AND user_id = $1`, userID, id, now)
}

// MarkAllNotificationsRead marks every unread notification of the user read and returns how many.
func (s *Store) MarkAllNotificationsRead(ctx context.Context, userID string, now time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE money_notifications SET read_at = $2 WHERE user_id = $1 AND read_at IS NULL`, userID, now)
	if err != nil {
		return 0, wrap("mark all notifications read", err)
	}
	return tag.RowsAffected(), nil
}
