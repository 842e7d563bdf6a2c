package accounts

import (
	"context"
	"errors"
	"net/http"

	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// CreateUserInput creates an account directly (admin bootstrap, demo data): any role, no
// verification email.
type CreateUserInput struct {
	Email    string
	Password string
	Name     string
	Role     string
	Verified bool
}

// CreateUser creates an account without the sign-up flow. actorID may be empty (CLI).
func (s *Service) CreateUser(ctx context.Context, actorID string, in CreateUserInput) (store.User, error) {
	f := problem.Field{}
	addr := checkEmail(f, in.Email)
	name := checkName(f, "name", in.Name)
	if in.Role != RoleStudent && in.Role != RoleTeacher && in.Role != RoleAdmin {
		f.Add("role", "must be student, teacher or admin")
	}
	if why := auth.CheckPassword(in.Password, addr); why != "" {
		f.Add("password", why)
	}
	if err := f.Err(); err != nil {
		return store.User{}, err
	}
	hash, err := s.Hasher.Hash(ctx, in.Password)
	if err != nil {
		return store.User{}, err
	}
	var u store.User
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		u, err = tx.CreateUser(ctx, store.NewUser{Email: addr, Name: name, Role: in.Role, PasswordHash: hash,
			Verified: in.Verified})
		if errors.Is(err, store.ErrConflict) {
			return problem.New(http.StatusConflict, problem.CodeEmailTaken, "an account with this email already exists")
		}
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: actorID, Action: "user.created", TargetType: "user",
			TargetID: u.ID, Details: map[string]any{"role": u.Role}})
	})
	return u, err
}

// ListUsers is the admin user list.
func (s *Service) ListUsers(ctx context.Context, f store.UserFilter) ([]store.User, error) {
	return s.Store.ListUsers(ctx, f)
}

// AdminUpdate changes a user's role and/or suspension.
type AdminUpdate struct {
	Role      *string
	Suspended *bool
}

// AdminUpdateUser applies in to targetID on behalf of admin actorID. Admins cannot demote or
// suspend themselves (so the last admin cannot lock everyone out by mistake). Suspension
// revokes every session of the target.
func (s *Service) AdminUpdateUser(ctx context.Context, actorID, targetID string, in AdminUpdate) (store.User, error) {
	if in.Role != nil && *in.Role != RoleStudent && *in.Role != RoleTeacher && *in.Role != RoleAdmin {
		return store.User{}, problem.Validation(map[string]string{"role": "must be student, teacher or admin"})
	}
	if actorID == targetID {
		return store.User{}, problem.New(http.StatusConflict, problem.CodeConflict, "admins cannot change their own role or suspend themselves")
	}
	var u store.User
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		before, err := tx.UserByIDForUpdate(ctx, targetID)
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(http.StatusNotFound, problem.CodeNotFound, "no such user")
		}
		if err != nil {
			return err
		}
		u = before
		if in.Role != nil && *in.Role != before.Role {
			if u, err = tx.SetRole(ctx, targetID, *in.Role); err != nil {
				return err
			}
			if err := tx.AppendAudit(ctx, store.AuditEntry{ActorID: actorID, Action: "user.role_changed",
				TargetType: "user", TargetID: targetID, Details: map[string]any{"from": before.Role, "to": *in.Role}}); err != nil {
				return err
			}
		}
		if in.Suspended != nil && *in.Suspended != (before.SuspendedAt != nil) {
			if u, err = tx.SetSuspended(ctx, targetID, *in.Suspended); err != nil {
				return err
			}
			action := "user.reinstated"
			if *in.Suspended {
				action = "user.suspended"
				if _, err := tx.RevokeAllSessions(ctx, targetID, "suspended"); err != nil {
					return err
				}
			}
			if err := tx.AppendAudit(ctx, store.AuditEntry{ActorID: actorID, Action: action, TargetType: "user",
				TargetID: targetID}); err != nil {
				return err
			}
		}
		return nil
	})
	return u, err
}
