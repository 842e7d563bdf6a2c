package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// DiscountCode reduces the price of a teacher's classes (ClassID empty: all of them).
type DiscountCode struct {
	ID         string
	TeacherID  string
	ClassID    string
	Code       string
	Kind       string // "percent" or "fixed" (credits)
	Amount     int
	ValidFrom  time.Time
	ValidUntil time.Time
	MaxUses    int
	Uses       int
	DisabledAt *time.Time
	CreatedAt  time.Time
}

// Apply returns price after the discount, never below zero.
func (d *DiscountCode) Apply(price int) int {
	var off int
	if d.Kind == "percent" {
		off = price * d.Amount / 100
	} else {
		off = d.Amount
	}
	if off > price {
		off = price
	}
	return price - off
}

const discountCols = `id, teacher_id, coalesce(class_id::text, ''), code, kind, amount, valid_from, valid_until,
	max_uses, uses, disabled_at, created_at`

func scanDiscount(row pgx.Row) (DiscountCode, error) {
	var d DiscountCode
	err := row.Scan(&d.ID, &d.TeacherID, &d.ClassID, &d.Code, &d.Kind, &d.Amount, &d.ValidFrom, &d.ValidUntil,
		&d.MaxUses, &d.Uses, &d.DisabledAt, &d.CreatedAt)
	return d, err
}

// CreateDiscountCode inserts d (ID, Uses, CreatedAt ignored); ErrConflict if the teacher
// already has the code.
func (s *Store) CreateDiscountCode(ctx context.Context, d DiscountCode) (DiscountCode, error) {
	out, err := scanDiscount(s.db.QueryRow(ctx, `INSERT INTO discount_codes (teacher_id, class_id, code, kind,
		amount, valid_from, valid_until, max_uses) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+discountCols,
		d.TeacherID, nullUUID(d.ClassID), d.Code, d.Kind, d.Amount, d.ValidFrom, d.ValidUntil, d.MaxUses))
	return out, wrap("create discount code", err)
}

// ListDiscountCodes returns a teacher's codes, newest first.
func (s *Store) ListDiscountCodes(ctx context.Context, teacherID string) ([]DiscountCode, error) {
	rows, err := s.db.Query(ctx, `SELECT `+discountCols+` FROM discount_codes WHERE teacher_id = $1
		ORDER BY created_at DESC`, teacherID)
	if err != nil {
		return nil, wrap("list discount codes", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DiscountCode, error) { return scanDiscount(r) })
	return out, wrap("list discount codes", err)
}

// DisableDiscountCode disables the teacher's code id; ErrNotFound if it is not theirs.
func (s *Store) DisableDiscountCode(ctx context.Context, teacherID, id string) error {
	return s.exec1(ctx, "disable discount code", `UPDATE discount_codes SET disabled_at = coalesce(disabled_at, now())
		WHERE id = $1 AND teacher_id = $2`, id, teacherID)
}

// RedeemDiscountCode finds the code valid for class classID of teacherID at now and counts
// one use, atomically: ErrNotFound when no such code is valid or it is used up. Call it in
// the booking's transaction so a failed booking does not consume a use.
func (s *Store) RedeemDiscountCode(ctx context.Context, teacherID, classID, code string, now time.Time) (DiscountCode, error) {
	d, err := scanDiscount(s.db.QueryRow(ctx, `UPDATE discount_codes SET uses = uses + 1
		WHERE teacher_id = $1 AND upper(code) = upper($3) AND (class_id IS NULL OR class_id = $2)
		  AND disabled_at IS NULL AND valid_from <= $4 AND valid_until > $4 AND uses < max_uses
		RETURNING `+discountCols, teacherID, classID, code, now))
	return d, wrap("redeem discount code", err)
}
