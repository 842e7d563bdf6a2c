// Package accounts is the business logic of sign-up, sign-in and account management:
// registration with email verification, login with lockout and optional TOTP, rotating
// refresh tokens with reuse detection, password reset, sessions, profiles and admin actions.
//
// Errors a client must see are *problem.Error; anything else is an internal failure.
// A *Service is safe for concurrent use.
package accounts

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/mail"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Roles.
const (
	RoleStudent = "student"
	RoleTeacher = "teacher"
	RoleAdmin   = "admin"
)

// Config tunes the service.
type Config struct {
	AppURL           string // base of links in emails
	RefreshTTL       time.Duration
	VerifyTTL        time.Duration
	ResetTTL         time.Duration
	LockoutThreshold int
	LockoutWindow    time.Duration
	TOTPIssuer       string
}

// Deps are the service's collaborators.
type Deps struct {
	Store  *store.Store
	Hasher *auth.Hasher
	Signer *auth.Signer
	// Secrets seals TOTP seeds at rest.
	Secrets *auth.SecretBox
	Outbox  *email.Outbox
	Log     *slog.Logger
	Now     func() time.Time
}

// Service implements account operations.
type Service struct {
	cfg Config
	Deps
}

// New returns a Service.
func New(cfg Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{cfg: cfg, Deps: d}
}

// Tokens is what a successful login or refresh returns.
type Tokens struct {
	AccessToken     string
	AccessExpiresAt time.Time
	RefreshToken    string
	// RefreshExpiresAt is when the session ends unless refreshed (the cookie's lifetime).
	RefreshExpiresAt time.Time
	SessionID        string
	User             store.User
}

// RegisterInput is a sign-up request.
type RegisterInput struct {
	Email    string
	Password string
	Name     string
	Role     string
	// TimeZone is the IANA zone for times in emails; the UI sends the browser's. Optional
	// (UTC), but a bad name is a field error.
	TimeZone string
}

// Register creates an unverified account and queues the welcome and verification emails in
// the same transaction. A taken email is a 409 even under concurrent registrations, since the
// database's unique index decides.
func (s *Service) Register(ctx context.Context, in RegisterInput) (store.User, error) {
	f := problem.Field{}
	addr := checkEmail(f, in.Email)
	name := checkName(f, "name", in.Name)
	if in.Role != RoleStudent && in.Role != RoleTeacher {
		f.Add("role", "must be student or teacher")
	}
	if why := auth.CheckPassword(in.Password, addr); why != "" {
		f.Add("password", why)
	}
	tz := in.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	checkTimeZone(f, "time_zone", tz)
	if err := f.Err(); err != nil {
		return store.User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return store.User{}, err
	}
	var u store.User
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		u, err = tx.CreateUser(ctx, store.NewUser{Email: addr, Name: name, Role: in.Role, PasswordHash: hash, TimeZone: tz})
		if errors.Is(err, store.ErrConflict) {
			return problem.New(http.StatusConflict, problem.CodeEmailTaken, "an account with this email already exists")
		}
		if err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, store.AuditEntry{ActorID: u.ID, Action: "auth.register", TargetType: "user",
			TargetID: u.ID, Details: map[string]any{"role": u.Role}}); err != nil {
			return err
		}
		if err := s.Outbox.Enqueue(ctx, tx, email.Message{To: u.Email, Kind: email.KindWelcome,
			Data: map[string]any{"Name": u.Name, "Role": u.Role}}); err != nil {
			return err
		}
		return s.sendVerification(ctx, tx, u)
	})
	return u, err
}

// ResendVerification mails a new verification link to an unverified user.
func (s *Service) ResendVerification(ctx context.Context, userID string) error {
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if u.EmailVerifiedAt != nil {
			return problem.New(http.StatusConflict, problem.CodeConflict, "email already verified")
		}
		return s.sendVerification(ctx, tx, u)
	})
}

func (s *Service) sendVerification(ctx context.Context, tx *store.Store, u store.User) error {
	tok, hash, err := auth.NewOpaqueToken()
	if err != nil {
		return err
	}
	if err := tx.InsertEmailToken(ctx, hash, u.ID, store.PurposeVerifyEmail, s.Now().Add(s.cfg.VerifyTTL)); err != nil {
		return err
	}
	return s.Outbox.Enqueue(ctx, tx, email.Message{To: u.Email, Kind: email.KindVerifyEmail,
		Data: map[string]any{"Name": u.Name, "Link": s.cfg.AppURL + "/verify-email?token=" + tok}})
}

// VerifyEmail consumes a verification token.
func (s *Service) VerifyEmail(ctx context.Context, token string) error {
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		userID, err := tx.ConsumeEmailToken(ctx, auth.HashToken(token), store.PurposeVerifyEmail, s.Now())
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(http.StatusBadRequest, problem.CodeInvalidToken, "the link is invalid, used or expired")
		}
		if err != nil {
			return err
		}
		if err := tx.MarkEmailVerified(ctx, userID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: userID, Action: "auth.email_verified",
			TargetType: "user", TargetID: userID})
	})
}

// ForgotPassword mails a reset link if an active account has addr. It answers the same
// whether or not one does, so it cannot be used to find accounts.
func (s *Service) ForgotPassword(ctx context.Context, addr string) error {
	u, err := s.Store.UserByEmail(ctx, addr)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if u.SuspendedAt != nil {
		return nil
	}
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		tok, hash, err := auth.NewOpaqueToken()
		if err != nil {
			return err
		}
		if err := tx.InsertEmailToken(ctx, hash, u.ID, store.PurposePasswordReset, s.Now().Add(s.cfg.ResetTTL)); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, store.AuditEntry{ActorID: u.ID, Action: "auth.password_reset_requested",
			TargetType: "user", TargetID: u.ID}); err != nil {
			return err
		}
		return s.Outbox.Enqueue(ctx, tx, email.Message{To: u.Email, Kind: email.KindPasswordReset,
			Data: map[string]any{"Name": u.Name, "Link": s.cfg.AppURL + "/reset-password?token=" + tok}})
	})
}

// ResetPassword sets a new password with a reset token, then invalidates every other reset
// link and signs the user out everywhere. A token is consumed only if the password passes.
func (s *Service) ResetPassword(ctx context.Context, token, password string) error {
	if len(password) > auth.MaxPasswordBytes || utf8.RuneCountInString(password) < auth.MinPasswordLen {
		return problem.Validation(map[string]string{"password": auth.CheckPassword(password, "")})
	}
	hash, err := s.Hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	now := s.Now()
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		userID, err := tx.ConsumeEmailToken(ctx, auth.HashToken(token), store.PurposePasswordReset, now)
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(http.StatusBadRequest, problem.CodeInvalidToken, "the link is invalid, used or expired")
		}
		if err != nil {
			return err
		}
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		if why := auth.CheckPassword(password, u.Email); why != "" {
			return problem.Validation(map[string]string{"password": why})
		}
		if err := tx.SetPassword(ctx, userID, hash); err != nil {
			return err
		}
		if err := tx.InvalidateEmailTokens(ctx, userID, store.PurposePasswordReset, now); err != nil {
			return err
		}
		if _, err := tx.RevokeAllSessions(ctx, userID, "password_reset"); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: userID, Action: "auth.password_reset",
			TargetType: "user", TargetID: userID})
	})
}

// checkEmail validates a bare address and returns it trimmed.
func checkEmail(f problem.Field, raw string) string {
	addr := strings.TrimSpace(raw)
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || len(addr) > 254 || !strings.Contains(addr[strings.LastIndex(addr, "@"):], ".") {
		f.Add("email", "must be a valid email address")
	}
	return addr
}

// checkName validates a display name: 1..100 characters, no control characters.
func checkName(f problem.Field, field, raw string) string {
	name := strings.TrimSpace(raw)
	n := utf8.RuneCountInString(name)
	if n == 0 || n > 100 {
		f.Add(field, "must be 1 to 100 characters")
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 || !utf8.ValidString(name) {
		f.Add(field, "must not contain control characters")
	}
	return name
}

func internal(op string, err error) error { return fmt.Errorf("accounts: %s: %w", op, err) }
