package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Session is one signed-in device.
type Session struct {
	ID           string
	UserID       string
	UserAgent    string
	IP           string
	CreatedAt    time.Time
	LastUsedAt   time.Time
	ExpiresAt    time.Time
	RevokedAt    *time.Time
	RevokeReason string
}

const sessionCols = `id, user_id, user_agent, ip, created_at, last_used_at, expires_at, revoked_at, revoke_reason`

func scanSession(row pgx.Row) (Session, error) {
	var s Session
	err := row.Scan(&s.ID, &s.UserID, &s.UserAgent, &s.IP, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt,
		&s.RevokedAt, &s.RevokeReason)
	return s, err
}

// CreateSession starts a session for userID that expires at expiresAt unless refreshed.
func (s *Store) CreateSession(ctx context.Context, userID, userAgent, ip string, expiresAt time.Time) (Session, error) {
	if len(userAgent) > 256 {
		userAgent = userAgent[:256]
	}
	ss, err := scanSession(s.db.QueryRow(ctx, `INSERT INTO sessions (user_id, user_agent, ip, expires_at)
		VALUES ($1, $2, $3, $4) RETURNING `+sessionCols, userID, userAgent, ip, expiresAt))
	return ss, wrap("create session", err)
}

// SessionByID returns a session, revoked or not.
func (s *Store) SessionByID(ctx context.Context, id string) (Session, error) {
	ss, err := scanSession(s.db.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id))
	return ss, wrap("session by id", err)
}

// ListActiveSessions returns userID's unrevoked, unexpired sessions, newest first.
func (s *Store) ListActiveSessions(ctx context.Context, userID string, now time.Time) ([]Session, error) {
	rows, err := s.db.Query(ctx, `SELECT `+sessionCols+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC`, userID, now)
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Session, error) { return scanSession(r) })
	return out, wrap("list sessions", err)
}

// RevokeSession revokes session id if it belongs to userID; ErrNotFound otherwise (so one
// user cannot probe another's session ids).
func (s *Store) RevokeSession(ctx context.Context, userID, id, reason string) error {
	return s.exec1(ctx, "revoke session", `UPDATE sessions SET revoked_at = coalesce(revoked_at, now()),
		revoke_reason = CASE WHEN revoked_at IS NULL THEN $3 ELSE revoke_reason END
		WHERE id = $2 AND user_id = $1`, userID, id, reason)
}

// RevokeAllSessions revokes every session of userID and returns how many were active.
func (s *Store) RevokeAllSessions(ctx context.Context, userID, reason string) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = $2
		WHERE user_id = $1 AND revoked_at IS NULL`, userID, reason)
	return tag.RowsAffected(), wrap("revoke all sessions", err)
}

// ExtendSession records use at now and moves the expiry to expiresAt.
func (s *Store) ExtendSession(ctx context.Context, id string, now, expiresAt time.Time) error {
	return s.exec1(ctx, "extend session", `UPDATE sessions SET last_used_at = $2, expires_at = $3 WHERE id = $1`,
		id, now, expiresAt)
}

// Principal is what authentication middleware needs to know about a session on every request.
type Principal struct {
	UserID    string
	SessionID string
	Role      string
	Name      string
	Email     string
	Verified  bool
	Suspended bool
	Revoked   bool
	ExpiresAt time.Time
}

// PrincipalBySession loads the current role and status of the session's user in one query, so
// a role change, suspension or revocation takes effect on the next request, not at token expiry.
func (s *Store) PrincipalBySession(ctx context.Context, sessionID string) (Principal, error) {
	var p Principal
	err := s.db.QueryRow(ctx, `SELECT u.id, s.id, u.role, u.name, u.email, u.email_verified_at IS NOT NULL,
		u.suspended_at IS NOT NULL, s.revoked_at IS NOT NULL, s.expires_at
		FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1`, sessionID).
		Scan(&p.UserID, &p.SessionID, &p.Role, &p.Name, &p.Email, &p.Verified, &p.Suspended, &p.Revoked, &p.ExpiresAt)
	return p, wrap("principal by session", err)
}

// RevokeOtherSessions revokes every active session of userID except keepID.
func (s *Store) RevokeOtherSessions(ctx context.Context, userID, keepID, reason string) (int64, error) {
	tag, err := s.db.Exec(ctx, `UPDATE sessions SET revoked_at = now(), revoke_reason = $3
		WHERE user_id = $1 AND id <> $2 AND revoked_at IS NULL`, userID, keepID, reason)
	return tag.RowsAffected(), wrap("revoke other sessions", err)
}
