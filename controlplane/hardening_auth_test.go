package controlplane_test

import (
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// Issue 17, finding 5: 40 resends sent 40 mails to one address. Verification mails are
// limited per account and per address like password resets.
func TestResendVerificationLimited(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) { c.RateLimit.ForgotPerHour = 2 }})
	u := &cptest.User{Email: cptest.UniqueEmail("bomb"), Password: cptest.TestPassword}
	register(t, env, u.Email, u.Password, "Bomb Target", "student").Want(t, 201)
	cptest.WaitEmail(t, u.Email, "Confirm your email")
	env.Login(t, u)
	accepted := 0
	for range 8 {
		res := env.Do(t, "POST", "/api/v1/auth/verify-email/resend", u.Token, nil)
		switch res.Status {
		case 202:
			accepted++
		case 429:
			if res.ErrorCode() != "rate_limited" || res.Header.Get("Retry-After") == "" {
				t.Errorf("429 without rate_limited and Retry-After: %s", res.Body)
			}
		default:
			t.Fatalf("resend: %d %s", res.Status, res.Body)
		}
	}
	if accepted != 2 {
		t.Errorf("%d of 8 resends accepted, want 2 (the hourly limit)", accepted)
	}
	time.Sleep(time.Second) // let any extra deliveries land
	n := 0
	for _, m := range cptest.MailTo(t, u.Email) {
		if strings.Contains(m.Subject, "Confirm your email") {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d verification mails, want 3 (registration + 2 resends)", n)
	}
}

// Issue 17, finding 6: /auth/2fa/disable told a wrong password from a wrong code and never
// locked: a password oracle for whoever holds a session. One answer, and the login lockout.
func TestDisable2FANotAnOracle(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "student")
	var enr struct {
		Secret string `json:"secret"`
	}
	env.Do(t, "POST", "/api/v1/auth/2fa/enroll", u.Token, nil).Want(t, 200).JSON(t, &enr)
	code := func() string {
		c, err := auth.TOTPCode(enr.Secret, env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	env.Do(t, "POST", "/api/v1/auth/2fa/confirm", u.Token, map[string]string{"code": code()}).Want(t, 200)
	env.Clock.Advance(30 * time.Second)

	wrongPw := env.Do(t, "POST", "/api/v1/auth/2fa/disable", u.Token, map[string]string{"password": "wrong-password-1", "code": code()})
	wrongCode := env.Do(t, "POST", "/api/v1/auth/2fa/disable", u.Token, map[string]string{"password": u.Password, "code": "000000"})
	if wrongPw.Status != wrongCode.Status || wrongPw.ErrorCode() != wrongCode.ErrorCode() || wrongPw.Map(t)["error"].(map[string]any)["message"] != wrongCode.Map(t)["error"].(map[string]any)["message"] {
		t.Errorf("wrong password answered %d %s, wrong code %d %s: they must not differ", wrongPw.Status, wrongPw.Body, wrongCode.Status, wrongCode.Body)
	}
	// Failures count towards the lockout (threshold 5): three more and the account locks,
	// here and at login, even with the right password and code.
	for i := range 3 {
		env.Do(t, "POST", "/api/v1/auth/2fa/disable", u.Token, map[string]string{"password": "wrong-password-" + string(rune('a'+i)), "code": code()}).
			WantError(t, 422, "invalid_credentials")
	}
	env.Do(t, "POST", "/api/v1/auth/2fa/disable", u.Token, map[string]string{"password": u.Password, "code": code()}).
		WantError(t, 423, "account_locked")
	login(t, env, u.Email, u.Password, code()).WantError(t, 423, "account_locked")
}

// Finding 6, rate: /auth/2fa/disable is under the per-IP auth limit like login.
func TestDisable2FARateLimited(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) {
		c.RateLimit.AuthPerMinute = 3
		c.Auth.LockoutThreshold = 100
	}})
	u := env.NewUser(t, "student") // one auth request (login)
	limited := false
	for range 4 {
		if env.Do(t, "POST", "/api/v1/auth/2fa/disable", u.Token, map[string]string{"password": "wrong-password-1", "code": "000000"}).Status == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("2fa/disable never hit the auth rate limit")
	}
}

// Issue 17, finding 7: with trust_forwarded_for the client IP was the first X-Forwarded-For
// hop, which the client writes: rotating it escaped the auth limit. The right-most hop (the
// one our proxy appended) counts.
func TestForwardedForRotationLimited(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) {
		c.HTTP.TrustForwardedFor = true
		c.RateLimit.AuthPerMinute = 5
	}})
	limited := 0
	for i := range 10 {
		res := env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/login",
			Body:    map[string]string{"email": "nobody@example.com", "password": "wrong-password-1"},
			Headers: map[string]string{"X-Forwarded-For": "198.51.100." + string(rune('1'+i)) + ", 203.0.113.9"}})
		if res.Status == 429 {
			limited++
		}
	}
	if limited != 5 {
		t.Errorf("%d of 10 logins limited with a rotating first hop, want 5", limited)
	}
	// Another client behind the same proxy has its own budget.
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/login",
		Body:    map[string]string{"email": "nobody@example.com", "password": "wrong-password-1"},
		Headers: map[string]string{"X-Forwarded-For": "203.0.113.10"}}).WantError(t, 401, "invalid_credentials")
}
