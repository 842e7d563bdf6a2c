package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// NotificationPreference is a user's choice for one kind: in-app and email on or off. A kind
// without a row uses the default (both on).
type NotificationPreference struct {
	Kind  string
	InApp bool
	Email bool
}

// NotificationPreferences returns the user's stored preferences (kinds left at the default
// are absent).
func (s *Store) NotificationPreferences(ctx context.Context, userID string) ([]NotificationPreference, error) {
	rows, err := s.db.Query(ctx, `SELECT kind, in_app, email FROM notification_preferences WHERE user_id = $1 ORDER BY kind`, userID)
	if err != nil {
		return nil, wrap("notification preferences", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[NotificationPreference])
	return out, wrap("notification preferences", err)
}

// SetNotificationPreference stores the user's choice for p.Kind.
func (s *Store) SetNotificationPreference(ctx context.Context, userID string, p NotificationPreference, now time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO notification_preferences (user_id, kind, in_app, email, updated_at)
		VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (user_id, kind) DO UPDATE SET in_app = EXCLUDED.in_app, email = EXCLUDED.email, updated_at = EXCLUDED.updated_at`,
		userID, p.Kind, p.InApp, p.Email, now)
	return wrap("set notification preference", err)
}

// EmailWanted reports whether the account at address (matched case-insensitively, like
// sign-in) has not turned off emails of kind. Unknown addresses get true.
func (s *Store) EmailWanted(ctx context.Context, address, kind string) (bool, error) {
	var off bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM notification_preferences p JOIN users u ON u.id = p.user_id
		WHERE lower(u.email) = lower($1) AND p.kind = $2 AND NOT p.email)`, address, kind).Scan(&off)
	return !off, wrap("email wanted", err)
}
