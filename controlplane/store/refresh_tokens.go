package store

import (
	"context"
	"time"
)

// RefreshToken is a stored (hashed) refresh token.
type RefreshToken struct {
	SessionID string
	CreatedAt time.Time
	UsedAt    *time.Time
}

// InsertRefreshToken stores the hash of a new refresh token for sessionID.
func (s *Store) InsertRefreshToken(ctx context.Context, hash []byte, sessionID string) error {
	_, err := s.db.Exec(ctx, `INSERT INTO refresh_tokens (token_hash, session_id) VALUES ($1, $2)`, hash, sessionID)
	return wrap("insert refresh token", err)
}

// RefreshTokenForUpdate returns the token with hash, locking it until the transaction ends so
// two concurrent rotations of one token cannot both succeed.
func (s *Store) RefreshTokenForUpdate(ctx context.Context, hash []byte) (RefreshToken, error) {
	var t RefreshToken
	err := s.db.QueryRow(ctx, `SELECT session_id, created_at, used_at FROM refresh_tokens
		WHERE token_hash = $1 FOR UPDATE`, hash).Scan(&t.SessionID, &t.CreatedAt, &t.UsedAt)
	return t, wrap("refresh token", err)
}

// MarkRefreshTokenUsed records that the token was rotated.
func (s *Store) MarkRefreshTokenUsed(ctx context.Context, hash []byte, now time.Time) error {
	return s.exec1(ctx, "mark refresh token used", `UPDATE refresh_tokens SET used_at = $2
		WHERE token_hash = $1 AND used_at IS NULL`, hash, now)
}
