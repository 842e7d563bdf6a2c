package store

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// User is an account row.
type User struct {
	ID                string
	Email             string
	Name              string
	Role              string
	PasswordHash      string
	EmailVerifiedAt   *time.Time
	SuspendedAt       *time.Time
	Bio               string
	TimeZone          string
	TOTPSecret        string // empty when 2FA is off
	TOTPPendingSecret string
	TOTPLastStep      int64
	FailedLogins      int
	FailedWindowStart *time.Time
	LockedUntil       *time.Time
	RatingSum         int64
	RatingCount       int
	CreatedAt         time.Time
	UpdatedAt         time.Time
}

// Rating returns the average rating, or nil when there is none yet.
func (u *User) Rating() *float64 {
	if u.RatingCount == 0 {
		return nil
	}
	r := float64(u.RatingSum) / float64(u.RatingCount)
	return &r
}

const userCols = `id, email, name, role, password_hash, email_verified_at, suspended_at, bio, time_zone,
	coalesce(totp_secret, ''), coalesce(totp_pending_secret, ''), totp_last_step, failed_logins,
	failed_window_start, locked_until, rating_sum, rating_count, created_at, updated_at`

func scanUser(row pgx.Row) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.EmailVerifiedAt, &u.SuspendedAt,
		&u.Bio, &u.TimeZone, &u.TOTPSecret, &u.TOTPPendingSecret, &u.TOTPLastStep, &u.FailedLogins,
		&u.FailedWindowStart, &u.LockedUntil, &u.RatingSum, &u.RatingCount, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

// NewUser is what CreateUser inserts.
type NewUser struct {
	Email        string
	Name         string
	Role         string
	PasswordHash string
	// Verified marks the email verified at creation (admin-created and demo accounts).
	Verified bool
	// TimeZone is an IANA name; "" means UTC.
	TimeZone string
}

// CreateUser inserts a user; ErrConflict if the email (case-insensitively) is taken.
func (s *Store) CreateUser(ctx context.Context, n NewUser) (User, error) {
	tz := n.TimeZone
	if tz == "" {
		tz = "UTC"
	}
	row := s.db.QueryRow(ctx, `INSERT INTO users (email, name, role, password_hash, email_verified_at, time_zone)
		VALUES ($1, $2, $3, $4, CASE WHEN $5 THEN now() END, $6) RETURNING `+userCols,
		strings.TrimSpace(n.Email), n.Name, n.Role, n.PasswordHash, n.Verified, tz)
	u, err := scanUser(row)
	return u, wrap("create user", err)
}

// UserByID returns the user with id.
func (s *Store) UserByID(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`, id))
	return u, wrap("user by id", err)
}

// UserByIDForUpdate returns the user with id, locking the row until the transaction ends.
func (s *Store) UserByIDForUpdate(ctx context.Context, id string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1 FOR UPDATE`, id))
	return u, wrap("user by id for update", err)
}

// UserByEmail returns the user with email, compared case-insensitively.
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `SELECT `+userCols+` FROM users WHERE lower(email) = lower($1)`,
		strings.TrimSpace(email)))
	return u, wrap("user by email", err)
}

// ProfileUpdate changes the fields that are non-nil.
type ProfileUpdate struct {
	Name     *string
	Bio      *string
	TimeZone *string
}

// UpdateProfile applies p to user id and returns the result.
func (s *Store) UpdateProfile(ctx context.Context, id string, p ProfileUpdate) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `UPDATE users SET
		name = coalesce($2, name), bio = coalesce($3, bio), time_zone = coalesce($4, time_zone), updated_at = now()
		WHERE id = $1 RETURNING `+userCols, id, p.Name, p.Bio, p.TimeZone))
	return u, wrap("update profile", err)
}

// SetPassword replaces the password hash and clears any lockout.
func (s *Store) SetPassword(ctx context.Context, id, hash string) error {
	return s.exec1(ctx, "set password", `UPDATE users SET password_hash = $2, failed_logins = 0,
		failed_window_start = NULL, locked_until = NULL, updated_at = now() WHERE id = $1`, id, hash)
}

// MarkEmailVerified records that the user proved they own their address (idempotent).
func (s *Store) MarkEmailVerified(ctx context.Context, id string) error {
	return s.exec1(ctx, "mark email verified", `UPDATE users SET email_verified_at = coalesce(email_verified_at, now()),
		updated_at = now() WHERE id = $1`, id)
}

// RecordLoginFailure counts a failed login at now inside a fixed window starting at the first
// failure; reaching threshold locks the account until now+window. It returns the lock's end,
// or nil if the account is not locked. Must run inside InTx for the row lock to matter.
func (s *Store) RecordLoginFailure(ctx context.Context, id string, now time.Time, threshold int, window time.Duration) (*time.Time, error) {
	u, err := s.UserByIDForUpdate(ctx, id)
	if err != nil {
		return nil, err
	}
	count, start := u.FailedLogins+1, now
	if u.FailedWindowStart != nil && now.Sub(*u.FailedWindowStart) < window {
		start = *u.FailedWindowStart
	} else {
		count = 1
	}
	var locked *time.Time
	if count >= threshold {
		t := now.Add(window)
		locked, count, start = &t, 0, now
	}
	_, err = s.db.Exec(ctx, `UPDATE users SET failed_logins = $2, failed_window_start = $3,
		locked_until = coalesce($4, locked_until) WHERE id = $1`, id, count, start, locked)
	return locked, wrap("record login failure", err)
}

// ResetLoginFailures clears the failure count after a successful login.
func (s *Store) ResetLoginFailures(ctx context.Context, id string) error {
	return s.exec1(ctx, "reset login failures", `UPDATE users SET failed_logins = 0, failed_window_start = NULL,
		locked_until = NULL WHERE id = $1`, id)
}

// SetTOTPPending stores a secret awaiting confirmation (replacing any earlier pending one).
func (s *Store) SetTOTPPending(ctx context.Context, id, secret string) error {
	return s.exec1(ctx, "set totp pending", `UPDATE users SET totp_pending_secret = $2, updated_at = now() WHERE id = $1`, id, secret)
}

// ConfirmTOTP promotes the pending secret to the active one, recording step as used.
func (s *Store) ConfirmTOTP(ctx context.Context, id string, step int64) error {
	return s.exec1(ctx, "confirm totp", `UPDATE users SET totp_secret = totp_pending_secret, totp_pending_secret = NULL,
		totp_last_step = $2, updated_at = now() WHERE id = $1 AND totp_pending_secret IS NOT NULL`, id, step)
}

// DisableTOTP turns 2FA off.
func (s *Store) DisableTOTP(ctx context.Context, id string) error {
	return s.exec1(ctx, "disable totp", `UPDATE users SET totp_secret = NULL, totp_pending_secret = NULL,
		updated_at = now() WHERE id = $1`, id)
}

// UseTOTPStep records that the code for time step was used, and reports false if that step
// (or a later one) was already used: a TOTP code is accepted once.
func (s *Store) UseTOTPStep(ctx context.Context, id string, step int64) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE users SET totp_last_step = $2 WHERE id = $1 AND totp_last_step < $2`, id, step)
	if err != nil {
		return false, wrap("use totp step", err)
	}
	return tag.RowsAffected() == 1, nil
}

// SetRole changes a user's role.
func (s *Store) SetRole(ctx context.Context, id, role string) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `UPDATE users SET role = $2, updated_at = now() WHERE id = $1
		RETURNING `+userCols, id, role))
	return u, wrap("set role", err)
}

// SetSuspended suspends (true) or reinstates (false) a user.
func (s *Store) SetSuspended(ctx context.Context, id string, suspended bool) (User, error) {
	u, err := scanUser(s.db.QueryRow(ctx, `UPDATE users SET
		suspended_at = CASE WHEN $2 THEN coalesce(suspended_at, now()) END, updated_at = now()
		WHERE id = $1 RETURNING `+userCols, id, suspended))
	return u, wrap("set suspended", err)
}

// UserFilter selects users for the admin list, newest first.
type UserFilter struct {
	Query string // substring of email or name
	Role  string
	// Before is the keyset cursor: users created strictly before (CreatedAt, ID).
	BeforeTime *time.Time
	BeforeID   string
	Limit      int
}

// ListUsers returns users matching f, newest first.
func (s *Store) ListUsers(ctx context.Context, f UserFilter) ([]User, error) {
	var q *string
	if f.Query != "" {
		esc := "%" + likeEscape(f.Query) + "%"
		q = &esc
	}
	var role *string
	if f.Role != "" {
		role = &f.Role
	}
	rows, err := s.db.Query(ctx, `SELECT `+userCols+` FROM users
		WHERE ($1::text IS NULL OR email ILIKE $1 OR name ILIKE $1)
		  AND ($2::text IS NULL OR role = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4::uuid))
		ORDER BY created_at DESC, id DESC LIMIT $5`, q, role, f.BeforeTime, nullUUID(f.BeforeID), f.Limit)
	if err != nil {
		return nil, wrap("list users", err)
	}
	users, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (User, error) { return scanUser(r) })
	return users, wrap("list users", err)
}

// CountUsers returns how many users exist (SeedDemo uses it to seed only an empty database).
func (s *Store) CountUsers(ctx context.Context) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n)
	return n, wrap("count users", err)
}

func (s *Store) exec1(ctx context.Context, op, sql string, args ...any) error {
	tag, err := s.db.Exec(ctx, sql, args...)
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(op, ErrNotFound)
	}
	return nil
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// nullUUID turns "" into a NULL parameter.
func nullUUID(id string) *string {
	if id == "" {
		return nil
	}
	return &id
}
