package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"

	"github.com/atrium-live/atrium/controlplane/problem"
)

// RateLimits are per-minute GCRA limits; zero Limiter disables limiting.
type RateLimits struct {
	Limiter       *redis_rate.Limiter
	Prefix        string // Redis key prefix
	IPPerMinute   int
	UserPerMinute int
	AuthPerMinute int
	ForgotPerHour int
	// BadSignaturePerMinute bounds refused webhook signatures per IP (zero: 30).
	BadSignaturePerMinute int
}

// allow spends one request of key's budget. When Redis is unreachable it lets the request
// through (and logs): an outage of the cache must not take the API down with it.
func (h *Handler) allow(ctx context.Context, key string, limit redis_rate.Limit) (time.Duration, bool) {
	if h.Rate.Limiter == nil {
		return 0, true
	}
	res, err := h.Rate.Limiter.Allow(ctx, h.Rate.Prefix+"rl:"+key, limit)
	if err != nil {
		h.Log.Warn("rate limiter unavailable; allowing", "err", err)
		return 0, true
	}
	if res.Allowed == 0 {
		return res.RetryAfter, false
	}
	return 0, true
}

func tooMany(retry time.Duration) error {
	e := problem.New(http.StatusTooManyRequests, problem.CodeRateLimited, "too many requests; slow down")
	if retry < time.Second {
		retry = time.Second
	}
	e.RetryAfter = retry
	return e
}

// limitIP applies the per-IP limit to every API request except webhooks: those come from a
// few machines of ours (an SFU node reports every join and leave of every room) and prove
// themselves by signature, which is cheaper to check than a limit is to tune.
func (h *Handler) limitIP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h.Rate.Limiter != nil && strings.HasPrefix(r.URL.Path, "/api/") && !strings.HasPrefix(r.URL.Path, "/api/v1/webhooks/") {
			if retry, ok := h.allow(r.Context(), "ip:"+h.clientIP(r), redis_rate.PerMinute(h.Rate.IPPerMinute)); !ok {
				writeError(w, r, h.Log, tooMany(retry))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitUser applies the per-user limit to authenticated requests.
func (h *Handler) limitUser(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p, ok := principalFrom(r.Context()); ok && h.Rate.Limiter != nil {
			if retry, ok := h.allow(r.Context(), "user:"+p.UserID, redis_rate.PerMinute(h.Rate.UserPerMinute)); !ok {
				writeError(w, r, h.Log, tooMany(retry))
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// limitAuth is the stricter per-IP limit for credential endpoints (login, register, reset).
func (h *Handler) limitAuth(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if retry, ok := h.allow(r.Context(), "auth:"+h.clientIP(r), redis_rate.PerMinute(h.Rate.AuthPerMinute)); !ok {
			writeError(w, r, h.Log, tooMany(retry))
			return
		}
		next(w, r)
	}
}

// limitForgot limits reset emails per address, so nobody can flood someone's inbox. It
// answers like a success when exceeded, to reveal nothing about the address.
func (h *Handler) allowForgot(ctx context.Context, email string) bool {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	_, ok := h.allow(ctx, "forgot:"+hex.EncodeToString(sum[:16]), redis_rate.PerHour(h.Rate.ForgotPerHour))
	return ok
}

// allowMail spends one mail of the hourly per-account and per-address budgets of kind
// (Rate.ForgotPerHour each), so nobody can flood an inbox through an account they hold.
func (h *Handler) allowMail(ctx context.Context, kind, userID, email string) (time.Duration, bool) {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	limit := redis_rate.PerHour(h.Rate.ForgotPerHour)
	if retry, ok := h.allow(ctx, kind+":user:"+userID, limit); !ok {
		return retry, false
	}
	return h.allow(ctx, kind+":addr:"+hex.EncodeToString(sum[:16]), limit)
}

// limitBadSignatures keeps unsigned traffic to a webhook endpoint cheap: webhooks are exempt
// from the per-IP limit (limitIP), but each refused signature (a 400 or 401) spends one of
// the client's BadSignaturePerMinute, is logged only while that budget lasts, and once it is
// spent the endpoint answers 429 without verifying anything (issue 17, finding 11: 3,000 bad
// signatures gave 3,000 warnings at 329/s). Correctly signed webhooks never spend it.
func (h *Handler) limitBadSignatures(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if h.Rate.Limiter == nil {
			next(w, r)
			return
		}
		per := h.Rate.BadSignaturePerMinute
		if per <= 0 {
			per = 30
		}
		limit := redis_rate.PerMinute(per)
		key := "badsig:" + h.clientIP(r)
		// A zero-cost call reads the budget without spending it.
		if res, err := h.Rate.Limiter.AllowN(r.Context(), h.Rate.Prefix+"rl:"+key, limit, 0); err == nil && res.Remaining < 1 {
			writeError(w, r, h.Log, tooMany(time.Minute/time.Duration(per)))
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next(sw, r)
		if sw.status == http.StatusBadRequest || sw.status == http.StatusUnauthorized {
			if _, ok := h.allow(r.Context(), key, limit); ok {
				h.Log.Warn("webhook refused", "route", routeName(r), "status", sw.status)
			}
		}
	}
}
