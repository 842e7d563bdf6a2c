package accounts

import (
	"context"
	"errors"
	"net/http"
	"time"
	"unicode/utf8"

	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Me returns the user's own account.
func (s *Service) Me(ctx context.Context, userID string) (store.User, error) {
	return s.Store.UserByID(ctx, userID)
}

// ProfileInput changes the non-nil fields of the caller's profile.
type ProfileInput struct {
	Name     *string
	Bio      *string
	TimeZone *string
}

// UpdateMe validates and applies in.
func (s *Service) UpdateMe(ctx context.Context, userID string, in ProfileInput) (store.User, error) {
	f := problem.Field{}
	var upd store.ProfileUpdate
	if in.Name != nil {
		n := checkName(f, "name", *in.Name)
		upd.Name = &n
	}
	if in.Bio != nil {
		if utf8.RuneCountInString(*in.Bio) > 2000 || !utf8.ValidString(*in.Bio) {
			f.Add("bio", "must be at most 2000 characters")
		}
		upd.Bio = in.Bio
	}
	if in.TimeZone != nil {
		checkTimeZone(f, "time_zone", *in.TimeZone)
		upd.TimeZone = in.TimeZone
	}
	if err := f.Err(); err != nil {
		return store.User{}, err
	}
	return s.Store.UpdateProfile(ctx, userID, upd)
}

// CheckTimeZone adds a field error unless tz is an IANA time zone name.
func checkTimeZone(f problem.Field, field, tz string) {
	if tz == "" || tz == "Local" || len(tz) > 64 {
		f.Add(field, "must be an IANA time zone such as Europe/Paris")
		return
	}
	if _, err := time.LoadLocation(tz); err != nil {
		f.Add(field, "must be an IANA time zone such as Europe/Paris")
	}
}

// Sessions lists the user's active sessions.
func (s *Service) Sessions(ctx context.Context, userID string) ([]store.Session, error) {
	return s.Store.ListActiveSessions(ctx, userID, s.Now())
}

// RevokeSession signs one of the user's devices out; 404 for anyone else's session.
func (s *Service) RevokeSession(ctx context.Context, userID, sessionID string) error {
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.RevokeSession(ctx, userID, sessionID, "user_revoked"); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return problem.New(http.StatusNotFound, problem.CodeNotFound, "no such session")
			}
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: userID, Action: "auth.session_revoked",
			TargetType: "session", TargetID: sessionID})
	})
}

// TOTPEnrollment is what the user scans into an authenticator app.
type TOTPEnrollment struct {
	Secret string
	URL    string
}

// EnrollTOTP creates a pending TOTP secret; ConfirmTOTP activates it.
func (s *Service) EnrollTOTP(ctx context.Context, userID string) (TOTPEnrollment, error) {
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if u.TOTPSecret != "" {
		return TOTPEnrollment{}, problem.New(http.StatusConflict, problem.CodeTOTPAlreadyEnabled, "two-factor authentication is already on")
	}
	secret, url, err := auth.NewTOTPSecret(s.cfg.TOTPIssuer, u.Email)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	sealed, err := s.Secrets.Seal(secret)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if err := s.Store.SetTOTPPending(ctx, userID, sealed); err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: secret, URL: url}, nil
}

// ConfirmTOTP turns 2FA on once the user proves their app produces codes for the pending secret.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, code string) error {
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		u, err := tx.UserByIDForUpdate(ctx, userID)
		if err != nil {
			return err
		}
		if u.TOTPSecret != "" {
			return problem.New(http.StatusConflict, problem.CodeTOTPAlreadyEnabled, "two-factor authentication is already on")
		}
		if u.TOTPPendingSecret == "" {
			return problem.New(http.StatusConflict, problem.CodeTOTPNotEnrolled, "start enrolment first")
		}
		pending, err := s.Secrets.Open(u.TOTPPendingSecret)
		if err != nil {
			return err
		}
		step, ok := auth.CheckTOTP(pending, code, s.Now())
		if !ok {
			return problem.New(http.StatusUnprocessableEntity, problem.CodeTOTPInvalid, "the code is wrong")
		}
		if err := tx.ConfirmTOTP(ctx, userID, step); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: userID, Action: "auth.2fa_enabled", TargetType: "user",
			TargetID: userID})
	})
}

// DisableTOTP turns 2FA off; it needs both the password and a current code.
func (s *Service) DisableTOTP(ctx context.Context, userID, password, code string) error {
	now := s.Now()
	u, err := s.Store.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	if u.TOTPSecret == "" {
		return problem.New(http.StatusConflict, problem.CodeTOTPNotEnabled, "two-factor authentication is off")
	}
	// A stolen session must not become a password oracle (issue 17, finding 6): the account
	// lock applies, both factors are always checked, a failure answers the same whichever
	// was wrong and counts towards the lockout like a failed sign-in.
	if u.LockedUntil != nil && u.LockedUntil.After(now) {
		return locked(*u.LockedUntil, now)
	}
	pwErr := s.Hasher.Verify(ctx, u.PasswordHash, password)
	if pwErr != nil && !errors.Is(pwErr, auth.ErrMismatch) {
		return pwErr
	}
	secret, err := s.Secrets.Open(u.TOTPSecret)
	if err != nil {
		return err
	}
	step, codeOK := auth.CheckTOTP(secret, code, now)
	if pwErr != nil || !codeOK {
		return s.failLogin(ctx, u, now, "2fa_disable", errBadFactors)
	}
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		fresh, err := tx.UseTOTPStep(ctx, userID, step)
		if err != nil {
			return err
		}
		if !fresh {
			return errBadFactors
		}
		if err := tx.DisableTOTP(ctx, userID); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: userID, Action: "auth.2fa_disabled", TargetType: "user",
			TargetID: userID})
	})
}

// errBadFactors is DisableTOTP's one answer to a wrong password, a wrong code or a replayed
// code.
var errBadFactors = problem.New(http.StatusUnprocessableEntity, problem.CodeInvalidCredentials, "wrong password or code")

// RevokeOtherSessions signs the user out everywhere except the current session.
func (s *Service) RevokeOtherSessions(ctx context.Context, userID, currentID string) (int64, error) {
	var n int64
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if n, err = tx.RevokeOtherSessions(ctx, userID, currentID, "user_revoked_others"); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: userID, Action: "auth.sessions_revoked",
			TargetType: "user", TargetID: userID, Details: map[string]any{"count": n}})
	})
	return n, err
}
