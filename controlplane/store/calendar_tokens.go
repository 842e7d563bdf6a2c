package store

import (
	"context"
	"time"
)

// ReplaceCalendarToken revokes the user's live calendar feed token, if any, and stores hash
// as the new one (call it in a transaction).
func (s *Store) ReplaceCalendarToken(ctx context.Context, userID string, hash []byte, now time.Time) error {
	if _, err := s.RevokeCalendarTokens(ctx, userID, now); err != nil {
		return err
	}
	_, err := s.db.Exec(ctx, `INSERT INTO calendar_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)`, hash, userID, now)
	return wrap("insert calendar token", err)
}

// RevokeCalendarTokens ends the user's live feed token; returns how many were live (0 or 1).
func (s *Store) RevokeCalendarTokens(ctx context.Context, userID string, now time.Time) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE calendar_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL`, userID, now)
	if err != nil {
		return 0, wrap("revoke calendar tokens", err)
	}
	return tag.RowsAffected(), nil
}

// CalendarTokenUser returns the user of a live feed token; ErrNotFound for unknown or revoked.
func (s *Store) CalendarTokenUser(ctx context.Context, hash []byte) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `SELECT user_id FROM calendar_tokens WHERE token_hash = $1 AND revoked_at IS NULL`, hash).Scan(&id)
	return id, wrap("calendar token user", err)
}

// CalendarTokenCreatedAt returns when the user's live feed token was made; ErrNotFound if none.
func (s *Store) CalendarTokenCreatedAt(ctx context.Context, userID string) (time.Time, error) {
	var at time.Time
	err := s.db.QueryRow(ctx, `SELECT created_at FROM calendar_tokens WHERE user_id = $1 AND revoked_at IS NULL`, userID).Scan(&at)
	return at, wrap("calendar token", err)
}
