// Package catalog is the business logic of classes: teachers create, edit and cancel them
// within the configured price bounds, manage discount codes, and everyone discovers them.
//
// Errors a client must see are *problem.Error. A *Service is safe for concurrent use.
package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Tier price bounds, inclusive, in credits.
type Bounds struct{ Min, Max int }

// Pricing maps a tier ("basic", "premium", "vip") to its bounds.
type Pricing map[string]Bounds

// ClassHooks lets other parts of the control plane (bookings, refunds) react to class
// changes inside the same transaction. Implementations must not call back into catalog.
type ClassHooks interface {
	// ClassCancelled runs in the cancellation's transaction; an error aborts the cancellation.
	ClassCancelled(ctx context.Context, tx *store.Store, c store.Class) error
}

// Deps are the service's collaborators; Hooks may be nil.
type Deps struct {
	Store *store.Store
	Hooks ClassHooks
	Log   *slog.Logger
	Now   func() time.Time
}

// Service implements class operations.
type Service struct {
	pricing Pricing
	Deps
}

// New returns a Service with pricing bounds.
func New(pricing Pricing, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{pricing: pricing, Deps: d}
}

// Actor is who is calling.
type Actor struct {
	UserID   string
	Role     string
	Verified bool
}

// ClassInput holds class fields; on update, nil fields are left unchanged.
type ClassInput struct {
	Title              *string
	Topic              *string
	Description        *string
	StartsAt           *time.Time
	DurationMinutes    *int
	TimeZone           *string
	Capacity           *int
	Tier               *string
	PriceCredits       *int
	Recordable         *bool
	StudentsCanPublish *bool
}

var (
	errNotFound  = problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	errNotOwner  = problem.New(http.StatusForbidden, problem.CodeForbidden, "only the class's teacher may do this")
	errTeachOnly = problem.New(http.StatusForbidden, problem.CodeForbidden, "only teachers can do this")
)

// Create schedules a class for a teacher with a verified email.
func (s *Service) Create(ctx context.Context, a Actor, in ClassInput) (store.Class, error) {
	if a.Role != "teacher" {
		return store.Class{}, errTeachOnly
	}
	if !a.Verified {
		return store.Class{}, problem.New(http.StatusForbidden, problem.CodeEmailNotVerified, "verify your email address before publishing classes")
	}
	f := problem.Field{}
	for name, missing := range map[string]bool{"title": in.Title == nil, "topic": in.Topic == nil,
		"starts_at": in.StartsAt == nil, "duration_minutes": in.DurationMinutes == nil, "capacity": in.Capacity == nil,
		"tier": in.Tier == nil, "price_credits": in.PriceCredits == nil} {
		if missing {
			f.Add(name, "is required")
		}
	}
	if err := f.Err(); err != nil {
		return store.Class{}, err
	}
	n := store.NewClass{TeacherID: a.UserID, Title: *in.Title, Topic: *in.Topic, StartsAt: *in.StartsAt,
		DurationMinutes: *in.DurationMinutes, TimeZone: "UTC", Capacity: *in.Capacity, Tier: *in.Tier,
		PriceCredits: *in.PriceCredits, StudentsCanPublish: true}
	if in.Description != nil {
		n.Description = *in.Description
	}
	if in.TimeZone != nil {
		n.TimeZone = *in.TimeZone
	} else if u, err := s.Store.UserByID(ctx, a.UserID); err == nil {
		n.TimeZone = u.TimeZone
	}
	if in.Recordable != nil {
		n.Recordable = *in.Recordable
	}
	if in.StudentsCanPublish != nil {
		n.StudentsCanPublish = *in.StudentsCanPublish
	}
	n.Title, n.Topic, n.Description = strings.TrimSpace(n.Title), strings.TrimSpace(n.Topic), strings.TrimSpace(n.Description)
	s.validate(f, n, 0, true)
	if err := f.Err(); err != nil {
		return store.Class{}, err
	}
	var c store.Class
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		if c, err = tx.CreateClass(ctx, n); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "class.created", TargetType: "class",
			TargetID: c.ID, Details: map[string]any{"price_credits": c.PriceCredits, "tier": c.Tier}})
	})
	return c, err
}

// Update edits the teacher's own class before it starts. A price change is audited.
func (s *Service) Update(ctx context.Context, a Actor, classID string, in ClassInput) (store.Class, error) {
	var out store.Class
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		c, err := tx.ClassByIDForUpdate(ctx, classID)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound
		}
		if err != nil {
			return err
		}
		if c.TeacherID != a.UserID {
			return errNotOwner
		}
		if c.Status != store.ClassScheduled || !s.Now().Before(c.StartsAt) {
			return problem.New(http.StatusConflict, problem.CodeClassNotEditable, "a cancelled or started class cannot be edited")
		}
		// Validate the class as it would be after the edit.
		n := store.NewClass{TeacherID: c.TeacherID, Title: pick(in.Title, c.Title), Topic: pick(in.Topic, c.Topic),
			Description: pick(in.Description, c.Description), StartsAt: pick(in.StartsAt, c.StartsAt),
			DurationMinutes: pick(in.DurationMinutes, c.DurationMinutes), TimeZone: pick(in.TimeZone, c.TimeZone),
			Capacity: pick(in.Capacity, c.Capacity), Tier: pick(in.Tier, c.Tier), PriceCredits: pick(in.PriceCredits, c.PriceCredits)}
		f := problem.Field{}
		s.validate(f, n, c.SeatsTaken, in.StartsAt != nil)
		if err := f.Err(); err != nil {
			return err
		}
		trim := func(p *string) *string {
			if p == nil {
				return nil
			}
			t := strings.TrimSpace(*p)
			return &t
		}
		out, err = tx.UpdateClass(ctx, classID, store.ClassUpdate{Title: trim(in.Title), Topic: trim(in.Topic),
			Description: trim(in.Description), StartsAt: in.StartsAt, DurationMinutes: in.DurationMinutes,
			TimeZone: in.TimeZone, Capacity: in.Capacity, Tier: in.Tier, PriceCredits: in.PriceCredits,
			Recordable: in.Recordable, StudentsCanPublish: in.StudentsCanPublish})
		if errors.Is(err, store.ErrConflict) {
			return problem.Validation(map[string]string{"capacity": "cannot be below the seats already booked"})
		}
		if err != nil {
			return err
		}
		if out.PriceCredits != c.PriceCredits || out.Tier != c.Tier {
			if err := tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "class.price_changed",
				TargetType: "class", TargetID: classID, Details: map[string]any{"from": c.PriceCredits,
					"to": out.PriceCredits, "tier_from": c.Tier, "tier_to": out.Tier}}); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "class.updated", TargetType: "class",
			TargetID: classID})
	})
	return out, err
}

// Cancel cancels a class that has not ended; its teacher or an admin may. Hooks (refunds,
// notifications) run in the same transaction.
func (s *Service) Cancel(ctx context.Context, a Actor, classID, reason string) (store.Class, error) {
	reason = strings.TrimSpace(reason)
	if utf8.RuneCountInString(reason) > 500 {
		return store.Class{}, problem.Validation(map[string]string{"reason": "must be at most 500 characters"})
	}
	var out store.Class
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		c, err := tx.ClassByIDForUpdate(ctx, classID)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound
		}
		if err != nil {
			return err
		}
		if c.TeacherID != a.UserID && a.Role != "admin" {
			return errNotOwner
		}
		if c.Status != store.ClassScheduled || !s.Now().Before(c.EndsAt()) {
			return problem.New(http.StatusConflict, problem.CodeClassNotEditable, "the class is already cancelled or over")
		}
		if out, err = tx.CancelClass(ctx, classID, reason, s.Now()); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "class.cancelled", TargetType: "class",
			TargetID: classID, Details: map[string]any{"by_role": a.Role, "seats_taken": c.SeatsTaken}}); err != nil {
			return err
		}
		if s.Hooks != nil {
			return s.Hooks.ClassCancelled(ctx, tx, out)
		}
		return nil
	})
	return out, err
}

// Get returns a class in any status.
func (s *Service) Get(ctx context.Context, id string) (store.Class, error) {
	c, err := s.Store.ClassByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, errNotFound
	}
	return c, err
}

// Search is discovery. From defaults to now, so only upcoming classes are listed.
func (s *Service) Search(ctx context.Context, q store.ClassQuery) ([]store.Class, *store.ClassCursor, error) {
	if q.From == nil {
		now := s.Now()
		q.From = &now
	}
	return s.Store.SearchClasses(ctx, q)
}

// TeacherProfile is a teacher's public page.
type TeacherProfile struct {
	Teacher  store.User
	Upcoming []store.Class
}

// Teacher returns a teacher's public profile with their next classes.
func (s *Service) Teacher(ctx context.Context, id string, limit int) (TeacherProfile, error) {
	u, err := s.Store.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Role != "teacher" || u.SuspendedAt != nil)) {
		return TeacherProfile{}, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such teacher")
	}
	if err != nil {
		return TeacherProfile{}, err
	}
	classes, _, err := s.Search(ctx, store.ClassQuery{TeacherID: id, Limit: limit})
	if err != nil {
		return TeacherProfile{}, err
	}
	return TeacherProfile{Teacher: u, Upcoming: classes}, nil
}

func (s *Service) validate(f problem.Field, n store.NewClass, seatsTaken int, checkStart bool) {
	text(f, "title", n.Title, 3, 200)
	text(f, "topic", n.Topic, 1, 60)
	if utf8.RuneCountInString(n.Description) > 5000 || !utf8.ValidString(n.Description) {
		f.Add("description", "must be at most 5000 characters")
	}
	now := s.Now()
	if checkStart && !n.StartsAt.After(now) {
		f.Add("starts_at", "must be in the future")
	}
	if n.StartsAt.After(now.AddDate(1, 0, 0)) {
		f.Add("starts_at", "must be within a year")
	}
	if n.DurationMinutes < 15 || n.DurationMinutes > 480 {
		f.Add("duration_minutes", "must be between 15 and 480")
	}
	if _, err := time.LoadLocation(n.TimeZone); err != nil || n.TimeZone == "" || n.TimeZone == "Local" {
		f.Add("time_zone", "must be an IANA time zone such as Europe/Paris")
	}
	if n.Capacity < 1 || n.Capacity > 1000 {
		f.Add("capacity", "must be between 1 and 1000")
	} else if n.Capacity < seatsTaken {
		f.Add("capacity", "cannot be below the seats already booked")
	}
	b, ok := s.pricing[n.Tier]
	if !ok {
		f.Add("tier", "must be basic, premium or vip")
	} else if n.PriceCredits < b.Min || n.PriceCredits > b.Max {
		f.Add("price_credits", fmt.Sprintf("must be between %d and %d for the %s tier", b.Min, b.Max, n.Tier))
	}
}

func text(f problem.Field, field, v string, min, max int) {
	n := utf8.RuneCountInString(v)
	if n < min || n > max {
		f.Add(field, fmt.Sprintf("must be %d to %d characters", min, max))
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 || !utf8.ValidString(v) {
		f.Add(field, "must not contain control characters")
	}
}

func pick[T any](p *T, def T) T {
	if p != nil {
		return *p
	}
	return def
}
