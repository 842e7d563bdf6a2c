package api

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

type principalKey struct{}

// principalFrom returns the authenticated caller, if any.
func principalFrom(ctx context.Context) (store.Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(store.Principal)
	return p, ok
}

var errUnauthenticated = problem.New(http.StatusUnauthorized, problem.CodeUnauthenticated, "sign in first")

// authenticate resolves "Authorization: Bearer <access JWT>" into a Principal for the rest of
// the chain. No header, or a webhook path (those authenticate by signature): anonymous. A
// header that does not verify (forged, expired, alg none, revoked session, suspended account)
// is refused outright with 401/403, never downgraded to anonymous, so a client learns at once
// that its token is bad.
func (h *Handler) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw := r.Header.Get("Authorization")
		// Webhooks carry their own signature in Authorization; they are not user calls.
		if raw == "" || !strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, "/api/v1/webhooks/") {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := strings.CutPrefix(raw, "Bearer ")
		if !ok || token == "" {
			writeError(w, r, h.Log, problem.New(http.StatusUnauthorized, problem.CodeInvalidToken, "Authorization must be 'Bearer <token>'"))
			return
		}
		p, err := h.principal(r.Context(), token)
		if err != nil {
			writeError(w, r, h.Log, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
	})
}

func (h *Handler) principal(ctx context.Context, token string) (store.Principal, error) {
	now := h.Now()
	claims, err := h.Signer.Verify(token, now)
	if err != nil {
		return store.Principal{}, problem.New(http.StatusUnauthorized, problem.CodeInvalidToken, "access token is invalid or expired")
	}
	if !isUUID(claims.SessionID) {
		return store.Principal{}, problem.New(http.StatusUnauthorized, problem.CodeInvalidToken, "access token is invalid or expired")
	}
	p, err := h.Store.PrincipalBySession(ctx, claims.SessionID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (p.UserID != claims.Subject || p.Revoked || !p.ExpiresAt.After(now))) {
		return store.Principal{}, problem.New(http.StatusUnauthorized, problem.CodeInvalidToken, "the session has ended; sign in again")
	}
	if err != nil {
		return store.Principal{}, err
	}
	if p.Suspended {
		return store.Principal{}, problem.New(http.StatusForbidden, problem.CodeAccountSuspended, "this account is suspended")
	}
	return p, nil
}

// authed wraps a handler that needs a signed-in caller, optionally with one of roles.
func (h *Handler) authed(roles ...string) func(func(http.ResponseWriter, *http.Request, store.Principal)) http.HandlerFunc {
	return func(fn func(http.ResponseWriter, *http.Request, store.Principal)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			p, ok := principalFrom(r.Context())
			if !ok {
				writeError(w, r, h.Log, errUnauthenticated)
				return
			}
			if len(roles) > 0 {
				allowed := false
				for _, role := range roles {
					allowed = allowed || p.Role == role
				}
				if !allowed {
					writeError(w, r, h.Log, problem.New(http.StatusForbidden, problem.CodeForbidden, "your role may not do this"))
					return
				}
			}
			fn(w, r, p)
		}
	}
}
