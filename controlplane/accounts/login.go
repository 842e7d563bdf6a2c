package accounts

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// LoginInput is a sign-in request; UserAgent and IP describe the device for the session list.
type LoginInput struct {
	Email     string
	Password  string
	TOTP      string
	UserAgent string
	IP        string
}

var errBadCredentials = problem.New(http.StatusUnauthorized, problem.CodeInvalidCredentials, "wrong email or password")

// Login checks credentials and starts a session. After LockoutThreshold failures within
// LockoutWindow the account is locked for LockoutWindow (423, Retry-After), whatever is sent.
// A wrong TOTP code counts as a failure; a missing one does not (the password was right).
func (s *Service) Login(ctx context.Context, in LoginInput) (Tokens, error) {
	now := s.Now()
	u, err := s.Store.UserByEmail(ctx, in.Email)
	if errors.Is(err, store.ErrNotFound) {
		s.Hasher.DummyVerify(ctx, in.Password)
		return Tokens{}, errBadCredentials
	}
	if err != nil {
		return Tokens{}, internal("login", err)
	}
	if u.LockedUntil != nil && u.LockedUntil.After(now) {
		return Tokens{}, locked(*u.LockedUntil, now)
	}
	if err := s.Hasher.Verify(ctx, u.PasswordHash, in.Password); err != nil {
		if !errors.Is(err, auth.ErrMismatch) {
			return Tokens{}, internal("login verify", err)
		}
		return Tokens{}, s.failLogin(ctx, u, now, "password", errBadCredentials)
	}
	if u.SuspendedAt != nil {
		return Tokens{}, problem.New(http.StatusForbidden, problem.CodeAccountSuspended, "this account is suspended")
	}
	if u.TOTPSecret != "" {
		if in.TOTP == "" {
			return Tokens{}, problem.New(http.StatusUnauthorized, problem.CodeTOTPRequired, "a two-factor code is required")
		}
		bad := problem.New(http.StatusUnauthorized, problem.CodeTOTPInvalid, "the two-factor code is wrong or was already used")
		secret, err := s.Secrets.Open(u.TOTPSecret)
		if err != nil {
			return Tokens{}, internal("login totp secret", err)
		}
		step, ok := auth.CheckTOTP(secret, in.TOTP, now)
		if !ok {
			return Tokens{}, s.failLogin(ctx, u, now, "totp", bad)
		}
		fresh, err := s.Store.UseTOTPStep(ctx, u.ID, step)
		if err != nil {
			return Tokens{}, internal("login totp", err)
		}
		if !fresh {
			return Tokens{}, s.failLogin(ctx, u, now, "totp_replay", bad)
		}
	}
	var t Tokens
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.ResetLoginFailures(ctx, u.ID); err != nil {
			return err
		}
		var err error
		t, err = s.startSession(ctx, tx, u, in.UserAgent, in.IP, now)
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: u.ID, Action: "auth.login", TargetType: "session",
			TargetID: t.SessionID})
	})
	return t, err
}

func (s *Service) failLogin(ctx context.Context, u store.User, now time.Time, why string, answer error) error {
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		until, err := tx.RecordLoginFailure(ctx, u.ID, now, s.cfg.LockoutThreshold, s.cfg.LockoutWindow)
		if err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, store.AuditEntry{ActorID: u.ID, Action: "auth.login_failed",
			TargetType: "user", TargetID: u.ID, Details: map[string]any{"reason": why}}); err != nil {
			return err
		}
		if until != nil {
			return tx.AppendAudit(ctx, store.AuditEntry{ActorID: u.ID, Action: "auth.locked", TargetType: "user",
				TargetID: u.ID, Details: map[string]any{"until": until.UTC().Format(time.RFC3339)}})
		}
		return nil
	})
	if err != nil {
		return internal("record failure", err)
	}
	return answer
}

func locked(until, now time.Time) error {
	e := problem.New(http.StatusLocked, problem.CodeAccountLocked, "too many failed sign-ins; try again later")
	e.RetryAfter = until.Sub(now)
	return e
}

func (s *Service) startSession(ctx context.Context, tx *store.Store, u store.User, ua, ip string, now time.Time) (Tokens, error) {
	sess, err := tx.CreateSession(ctx, u.ID, ua, ip, now.Add(s.cfg.RefreshTTL))
	if err != nil {
		return Tokens{}, err
	}
	return s.issue(ctx, tx, u, sess.ID, now)
}

func (s *Service) issue(ctx context.Context, tx *store.Store, u store.User, sessionID string, now time.Time) (Tokens, error) {
	refresh, hash, err := auth.NewOpaqueToken()
	if err != nil {
		return Tokens{}, err
	}
	if err := tx.InsertRefreshToken(ctx, hash, sessionID); err != nil {
		return Tokens{}, err
	}
	access, exp, err := s.Signer.Issue(u.ID, sessionID, u.Role, now)
	if err != nil {
		return Tokens{}, err
	}
	return Tokens{AccessToken: access, AccessExpiresAt: exp, RefreshToken: refresh, RefreshExpiresAt: now.Add(s.cfg.RefreshTTL),
		SessionID: sessionID, User: u}, nil
}

var errBadRefresh = problem.New(http.StatusUnauthorized, problem.CodeInvalidRefreshToken, "the refresh token is invalid or expired")

// Refresh rotates a refresh token: the presented token is spent and a new pair is returned.
// Presenting a spent token again means it was copied (or a client raced itself); the whole
// session, that is the token family, is revoked and every token of it stops working.
func (s *Service) Refresh(ctx context.Context, token, ua, ip string) (Tokens, error) {
	now := s.Now()
	hash := auth.HashToken(token)
	var (
		t      Tokens
		reused bool
	)
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		rt, err := tx.RefreshTokenForUpdate(ctx, hash)
		if errors.Is(err, store.ErrNotFound) {
			return errBadRefresh
		}
		if err != nil {
			return err
		}
		sess, err := tx.SessionByID(ctx, rt.SessionID)
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil || !sess.ExpiresAt.After(now) {
			return errBadRefresh
		}
		if rt.UsedAt != nil {
			reused = true
			if err := tx.RevokeSession(ctx, sess.UserID, sess.ID, "refresh_token_reuse"); err != nil {
				return err
			}
			return tx.AppendAudit(ctx, store.AuditEntry{ActorID: sess.UserID, Action: "auth.refresh_reuse",
				TargetType: "session", TargetID: sess.ID})
		}
		u, err := tx.UserByID(ctx, sess.UserID)
		if err != nil {
			return err
		}
		if u.SuspendedAt != nil {
			return problem.New(http.StatusForbidden, problem.CodeAccountSuspended, "this account is suspended")
		}
		if err := tx.MarkRefreshTokenUsed(ctx, hash, now); err != nil {
			return err
		}
		if err := tx.ExtendSession(ctx, sess.ID, now, now.Add(s.cfg.RefreshTTL)); err != nil {
			return err
		}
		t, err = s.issue(ctx, tx, u, sess.ID, now)
		return err
	})
	if err != nil {
		return Tokens{}, err
	}
	if reused {
		return Tokens{}, problem.New(http.StatusUnauthorized, problem.CodeRefreshTokenReused,
			"this refresh token was already used; the session has been revoked")
	}
	return t, nil
}

// LogoutRefresh revokes the session a refresh token belongs to (a browser signing out with
// its cookie after its access token lapsed). An unknown token is not an error: the caller
// ends up signed out either way. Returns the user and session revoked ("" if none).
func (s *Service) LogoutRefresh(ctx context.Context, token string) (userID, sessionID string, err error) {
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		rt, err := tx.RefreshTokenForUpdate(ctx, auth.HashToken(token))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		sess, err := tx.SessionByID(ctx, rt.SessionID)
		if err != nil {
			return err
		}
		if sess.RevokedAt != nil {
			return nil
		}
		userID, sessionID = sess.UserID, sess.ID
		return s.logout(ctx, tx, sess.UserID, sess.ID)
	})
	return userID, sessionID, err
}

// Logout revokes the caller's current session.
func (s *Service) Logout(ctx context.Context, userID, sessionID string) error {
	return s.Store.InTx(ctx, func(tx *store.Store) error { return s.logout(ctx, tx, userID, sessionID) })
}

func (s *Service) logout(ctx context.Context, tx *store.Store, userID, sessionID string) error {
	if err := tx.RevokeSession(ctx, userID, sessionID, "logout"); err != nil {
		return err
	}
	return tx.AppendAudit(ctx, store.AuditEntry{ActorID: userID, Action: "auth.logout", TargetType: "session",
		TargetID: sessionID})
}
