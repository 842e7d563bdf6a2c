package catalog

import (
	"context"
	"errors"
	"net/http"
	"regexp"
	"strings"
	"time"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// DiscountInput creates a discount code.
type DiscountInput struct {
	Code       string
	ClassID    string // empty: all of the teacher's classes
	Kind       string // "percent" or "fixed"
	Amount     int
	ValidFrom  *time.Time // default now
	ValidUntil time.Time
	MaxUses    int
}

var codeRE = regexp.MustCompile(`^[A-Za-z0-9_-]{3,32}$`)

// CreateDiscount creates a code for the teacher's classes (or one of them).
func (s *Service) CreateDiscount(ctx context.Context, a Actor, in DiscountInput) (store.DiscountCode, error) {
	if a.Role != "teacher" {
		return store.DiscountCode{}, errTeachOnly
	}
	f := problem.Field{}
	if !codeRE.MatchString(in.Code) {
		f.Add("code", "must be 3 to 32 letters, digits, - or _")
	}
	switch in.Kind {
	case "percent":
		if in.Amount < 1 || in.Amount > 100 {
			f.Add("amount", "must be 1 to 100 for a percent discount")
		}
	case "fixed":
		if in.Amount < 1 || in.Amount > 100000 {
			f.Add("amount", "must be 1 to 100000 credits")
		}
	default:
		f.Add("kind", "must be percent or fixed")
	}
	from := s.Now()
	if in.ValidFrom != nil {
		from = *in.ValidFrom
	}
	if !in.ValidUntil.After(from) {
		f.Add("valid_until", "must be after valid_from")
	}
	if in.MaxUses < 1 || in.MaxUses > 1000000 {
		f.Add("max_uses", "must be 1 to 1000000")
	}
	if err := f.Err(); err != nil {
		return store.DiscountCode{}, err
	}
	if in.ClassID != "" {
		c, err := s.Store.ClassByID(ctx, in.ClassID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && c.TeacherID != a.UserID) {
			return store.DiscountCode{}, problem.Validation(map[string]string{"class_id": "must be one of your classes"})
		}
		if err != nil {
			return store.DiscountCode{}, err
		}
	}
	var d store.DiscountCode
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		d, err = tx.CreateDiscountCode(ctx, store.DiscountCode{TeacherID: a.UserID, ClassID: in.ClassID,
			Code: strings.ToUpper(in.Code), Kind: in.Kind, Amount: in.Amount, ValidFrom: from,
			ValidUntil: in.ValidUntil, MaxUses: in.MaxUses})
		if errors.Is(err, store.ErrConflict) {
			return problem.New(http.StatusConflict, problem.CodeConflict, "you already have a code with this name")
		}
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "discount.created",
			TargetType: "discount_code", TargetID: d.ID, Details: map[string]any{"kind": d.Kind, "amount": d.Amount}})
	})
	return d, err
}

// Discounts lists the teacher's codes.
func (s *Service) Discounts(ctx context.Context, a Actor) ([]store.DiscountCode, error) {
	if a.Role != "teacher" {
		return nil, errTeachOnly
	}
	return s.Store.ListDiscountCodes(ctx, a.UserID)
}

// DisableDiscount disables one of the teacher's codes; 404 for anyone else's.
func (s *Service) DisableDiscount(ctx context.Context, a Actor, id string) error {
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.DisableDiscountCode(ctx, a.UserID, id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return problem.New(http.StatusNotFound, problem.CodeNotFound, "no such discount code")
			}
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "discount.disabled",
			TargetType: "discount_code", TargetID: id})
	})
}
