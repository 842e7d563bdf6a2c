package store

import (
	"context"
	"time"
)

// Email token purposes.
const (
	PurposeVerifyEmail   = "verify_email"
	PurposePasswordReset = "password_reset"
)

// InsertEmailToken stores the hash of a token mailed to userID for purpose.
func (s *Store) InsertEmailToken(ctx context.Context, hash []byte, userID, purpose string, expiresAt time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO email_tokens (token_hash, user_id, purpose, expires_at)
		VALUES ($1, $2, $3, $4)`, hash, userID, purpose, expiresAt)
	return wrap("insert email token", err)
}

// ConsumeEmailToken marks the token used and returns its user, atomically: an unknown,
// expired, already used or wrong-purpose token gives ErrNotFound, and of two concurrent
// uses exactly one succeeds.
func (s *Store) ConsumeEmailToken(ctx context.Context, hash []byte, purpose string, now time.Time) (string, error) {
	var userID string
	err := s.db.QueryRow(ctx, `UPDATE email_tokens SET used_at = $3
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING user_id`, hash, purpose, now).Scan(&userID)
	return userID, wrap("consume email token", err)
}

// InvalidateEmailTokens marks every unused token of userID for purpose used (after a reset,
// older reset links must stop working).
func (s *Store) InvalidateEmailTokens(ctx context.Context, userID, purpose string, now time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE email_tokens SET used_at = $3
		WHERE user_id = $1 AND purpose = $2 AND used_at IS NULL`, userID, purpose, now)
	return wrap("invalidate email tokens", err)
}
