package controlplane_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

func register(t *testing.T, env *cptest.Env, email, password, name, role string) *cptest.Response {
	t.Helper()
	return env.Do(t, "POST", "/api/v1/auth/register", "", map[string]string{"email": email, "password": password,
		"name": name, "role": role})
}

func login(t *testing.T, env *cptest.Env, email, password, totp string) *cptest.Response {
	t.Helper()
	body := map[string]string{"email": email, "password": password}
	if totp != "" {
		body["totp"] = totp
	}
	return env.Do(t, "POST", "/api/v1/auth/login", "", body)
}

func TestRegisterVerifyEmailFlow(t *testing.T) {
	env := cptest.Serve(t)
	email := cptest.UniqueEmail("reg")
	name := `<script>alert("x")</script> Ann`
	var u struct {
		ID            string `json:"id"`
		Role          string `json:"role"`
		EmailVerified bool   `json:"email_verified"`
	}
	register(t, env, email, cptest.TestPassword, name, "student").Want(t, http.StatusCreated).JSON(t, &u)
	if u.Role != "student" || u.EmailVerified || u.ID == "" {
		t.Fatalf("registered user = %+v", u)
	}
	welcome := cptest.WaitEmail(t, email, "Welcome")
	if !strings.Contains(welcome.HTML, "&lt;script&gt;") || strings.Contains(welcome.HTML, "<script>") {
		t.Errorf("welcome HTML does not escape the name:\n%s", welcome.HTML)
	}
	verify := cptest.WaitEmail(t, email, "Confirm your email")
	token := cptest.TokenFrom(t, verify)
	if !strings.Contains(verify.HTML, "verify-email?token="+token) {
		t.Errorf("verification HTML lacks the link")
	}

	// Unverified accounts can sign in.
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	login(t, env, email, cptest.TestPassword, "").Want(t, 200).JSON(t, &tok)
	if tok.TokenType != "Bearer" || tok.ExpiresIn < 890 || tok.ExpiresIn > 900 {
		t.Errorf("token type %q expires_in %d, want Bearer and 900s", tok.TokenType, tok.ExpiresIn)
	}
	if env.Do(t, "GET", "/api/v1/me", tok.AccessToken, nil).Want(t, 200).Map(t)["email_verified"] != false {
		t.Error("email_verified true before verification")
	}
	env.Do(t, "POST", "/api/v1/auth/verify-email", "", map[string]string{"token": token}).Want(t, 200)
	if env.Do(t, "GET", "/api/v1/me", tok.AccessToken, nil).Want(t, 200).Map(t)["email_verified"] != true {
		t.Error("email_verified false after verification")
	}
	// Single use; forged tokens refused.
	env.Do(t, "POST", "/api/v1/auth/verify-email", "", map[string]string{"token": token}).WantError(t, 400, "invalid_token")
	env.Do(t, "POST", "/api/v1/auth/verify-email", "", map[string]string{"token": "not-a-token"}).WantError(t, 400, "invalid_token")
	// Resending to a verified account is a conflict.
	env.Do(t, "POST", "/api/v1/auth/verify-email/resend", tok.AccessToken, nil).WantError(t, 409, "conflict")
}

func TestResendVerification(t *testing.T) {
	env := cptest.Serve(t)
	u := &cptest.User{Email: cptest.UniqueEmail("resend"), Password: cptest.TestPassword}
	register(t, env, u.Email, u.Password, "Re Send", "student").Want(t, 201)
	first := cptest.TokenFrom(t, cptest.WaitEmail(t, u.Email, "Confirm your email"))
	env.Login(t, u)
	env.Do(t, "POST", "/api/v1/auth/verify-email/resend", u.Token, nil).Want(t, 202)
	deadline := time.Now().Add(20 * time.Second)
	var second string
	for second == "" {
		for _, m := range cptest.MailTo(t, u.Email) {
			if strings.Contains(m.Subject, "Confirm your email") {
				if tok := cptest.TokenFrom(t, cptest.WaitEmail(t, u.Email, m.Subject)); tok != first {
					second = tok
				}
			}
		}
		if second == "" && time.Now().After(deadline) {
			t.Fatal("no second verification email")
		}
		time.Sleep(100 * time.Millisecond)
	}
	env.Do(t, "POST", "/api/v1/auth/verify-email", "", map[string]string{"token": second}).Want(t, 200)
}

func TestVerifyTokenExpires(t *testing.T) {
	env := cptest.Serve(t)
	email := cptest.UniqueEmail("exp")
	register(t, env, email, cptest.TestPassword, "Exp", "teacher").Want(t, 201)
	token := cptest.TokenFrom(t, cptest.WaitEmail(t, email, "Confirm your email"))
	env.Clock.Advance(24*time.Hour + time.Minute)
	env.Do(t, "POST", "/api/v1/auth/verify-email", "", map[string]string{"token": token}).WantError(t, 400, "invalid_token")
}

func TestRegisterBadInput(t *testing.T) {
	env := cptest.Serve(t)
	ok := cptest.UniqueEmail("bad")
	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"missing fields", map[string]any{"email": ok}, 422, "validation_failed", "password"},
		{"wrong type", map[string]any{"email": ok, "password": 12345678901, "name": "A", "role": "student"}, 422, "validation_failed", "password"},
		{"admin role", map[string]any{"email": ok, "password": cptest.TestPassword, "name": "A", "role": "admin"}, 422, "validation_failed", "role"},
		{"unknown field", map[string]any{"email": ok, "password": cptest.TestPassword, "name": "A", "role": "student", "is_admin": true}, 422, "validation_failed", ""},
		{"short password", map[string]any{"email": ok, "password": "short", "name": "A", "role": "student"}, 422, "validation_failed", "password"},
		{"common password", map[string]any{"email": ok, "password": "Password123", "name": "A", "role": "student"}, 422, "validation_failed", "password"},
		{"password is email", map[string]any{"email": ok, "password": ok, "name": "A", "role": "student"}, 422, "validation_failed", "password"},
		{"bad email", map[string]any{"email": "not an email", "password": cptest.TestPassword, "name": "A", "role": "student"}, 422, "validation_failed", "email"},
		{"email with display name", map[string]any{"email": "Eve <eve@atrium.test>", "password": cptest.TestPassword, "name": "A", "role": "student"}, 422, "validation_failed", "email"},
		{"empty name", map[string]any{"email": ok, "password": cptest.TestPassword, "name": "   ", "role": "student"}, 422, "validation_failed", "name"},
		{"control chars", map[string]any{"email": ok, "password": cptest.TestPassword, "name": "a\x00b", "role": "student"}, 422, "validation_failed", "name"},
		{"not json", "{email:", 400, "bad_json", ""},
		{"array body", "[]", 422, "validation_failed", ""},
		{"sql in email", map[string]any{"email": "x'; DROP TABLE users; --@atrium.test", "password": cptest.TestPassword, "name": "A", "role": "student"}, 422, "validation_failed", "email"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := env.Do(t, "POST", "/api/v1/auth/register", "", tc.body).WantError(t, tc.status, tc.code)
			if tc.field != "" {
				if _, ok := res.ErrorFields()[tc.field]; !ok {
					t.Errorf("fields %v lack %q", res.ErrorFields(), tc.field)
				}
			}
		})
	}
	// Nothing was stored.
	if _, err := env.Server.Store.UserByEmail(context.Background(), ok); err == nil {
		t.Error("a refused registration stored a user")
	}
	// The users table survived the injection attempt.
	if _, err := env.Server.Store.CountUsers(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Wrong content type and oversized bodies.
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/register", Body: "email=x",
		Headers: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}).WantError(t, 415, "unsupported_media_type")
	huge := `{"email":"` + strings.Repeat("a", 2<<20) + `"}`
	env.Do(t, "POST", "/api/v1/auth/register", "", huge).WantError(t, 413, "body_too_large")
}

func TestRegisterSameEmailConcurrently(t *testing.T) {
	env := cptest.Serve(t)
	email := cptest.UniqueEmail("race")
	const n = 50
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Vary the case: uniqueness is case-insensitive.
			e := email
			if i%2 == 1 {
				e = strings.ToUpper(email[:1]) + email[1:]
			}
			statuses[i] = register(t, env, e, cptest.TestPassword, "Racer", "student").Status
		}()
	}
	wg.Wait()
	created, conflicts := 0, 0
	for _, s := range statuses {
		switch s {
		case 201:
			created++
		case 409:
			conflicts++
		}
	}
	if created != 1 || conflicts != n-1 {
		t.Fatalf("50 parallel registrations: %d created, %d conflicts (statuses %v); want 1 and 49", created, conflicts, statuses)
	}
	var count int
	if err := env.Server.Pool.QueryRow(context.Background(), `SELECT count(*) FROM users WHERE lower(email) = lower($1)`, email).Scan(&count); err != nil {
		t.Fatal(err)
	}
	if count != 1 {
		t.Fatalf("%d accounts for %s, want 1", count, email)
	}
}

func TestLoginLockout(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "student")
	login(t, env, "nobody-"+u.Email, "whatever-password", "").WantError(t, 401, "invalid_credentials")
	for i := range 5 {
		res := login(t, env, u.Email, "wrong-password-"+string(rune('a'+i)), "")
		res.WantError(t, 401, "invalid_credentials")
	}
	res := login(t, env, u.Email, u.Password, "").WantError(t, 423, "account_locked")
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q on a locked account", ra)
	}
	env.Clock.Advance(15*time.Minute + time.Second)
	login(t, env, u.Email, u.Password, "").Want(t, 200)

	// Failures spread over more than the window do not lock.
	for range 4 {
		login(t, env, u.Email, "wrong-password-x", "").WantError(t, 401, "invalid_credentials")
	}
	env.Clock.Advance(16 * time.Minute)
	for range 4 {
		login(t, env, u.Email, "wrong-password-y", "").WantError(t, 401, "invalid_credentials")
	}
	login(t, env, u.Email, u.Password, "").Want(t, 200)

	admin := env.NewUser(t, "admin")
	audit := env.Do(t, "GET", "/api/v1/admin/audit-log?action=auth.locked&target_id="+u.ID, admin.Token, nil).Want(t, 200).Map(t)
	if items := audit["items"].([]any); len(items) != 1 {
		t.Errorf("auth.locked audit entries = %d, want 1", len(items))
	}
}

func TestRefreshRotationAndReuse(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "student")
	var t1, t2 struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		SessionID    string `json:"session_id"`
	}
	env.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.RefreshToken}).Want(t, 200).JSON(t, &t1)
	if t1.RefreshToken == u.RefreshToken || t1.SessionID != u.SessionID {
		t.Fatalf("refresh did not rotate within the session: %+v", t1)
	}
	env.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": t1.RefreshToken}).Want(t, 200).JSON(t, &t2)
	env.Do(t, "GET", "/api/v1/me", t2.AccessToken, nil).Want(t, 200)

	// Replaying a spent token revokes the family: the newest token and access token die too.
	env.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.RefreshToken}).WantError(t, 401, "refresh_token_reused")
	env.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": t2.RefreshToken}).WantError(t, 401, "invalid_refresh_token")
	env.Do(t, "GET", "/api/v1/me", t2.AccessToken, nil).WantError(t, 401, "invalid_token")
	env.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": "garbage"}).WantError(t, 401, "invalid_refresh_token")

	// Other sessions of the user are untouched.
	other := *u
	env.Login(t, &other)
	env.Do(t, "GET", "/api/v1/me", other.Token, nil).Want(t, 200)
}

func TestConcurrentRefreshOneWins(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "student")
	const n = 10
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = env.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.RefreshToken}).Status
		}()
	}
	wg.Wait()
	ok := 0
	for _, c := range codes {
		if c == 200 {
			ok++
		} else if c != 401 {
			t.Errorf("unexpected status %d", c)
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent rotations of one token succeeded, want 1 (%v)", ok, codes)
	}
}

func TestPasswordReset(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "teacher")
	unknown := cptest.UniqueEmail("ghost")
	a := env.Do(t, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": unknown}).Want(t, 202)
	b := env.Do(t, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": u.Email}).Want(t, 202)
	if string(a.Body) != string(b.Body) {
		t.Errorf("forgot answers differ for unknown (%s) and known (%s) accounts", a.Body, b.Body)
	}
	mail := cptest.WaitEmail(t, u.Email, "Reset your Atrium password")
	token := cptest.TokenFrom(t, mail)

	// A weak password is refused and does not spend the token.
	env.Do(t, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": token, "password": "password123"}).
		WantError(t, 422, "validation_failed")
	newPass := "a-brand-new-passphrase-7"
	env.Do(t, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": token, "password": newPass}).Want(t, 200)
	env.Do(t, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": token, "password": newPass + "x"}).
		WantError(t, 400, "invalid_token")
	// Every old session was signed out.
	env.Do(t, "GET", "/api/v1/me", u.Token, nil).WantError(t, 401, "invalid_token")
	login(t, env, u.Email, u.Password, "").WantError(t, 401, "invalid_credentials")
	login(t, env, u.Email, newPass, "").Want(t, 200)
	if got := cptest.MailTo(t, unknown); len(got) != 0 {
		t.Errorf("mail sent to an address with no account: %v", got)
	}
}

func TestResetTokenExpires(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "student")
	env.Do(t, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": u.Email}).Want(t, 202)
	token := cptest.TokenFrom(t, cptest.WaitEmail(t, u.Email, "Reset"))
	env.Clock.Advance(time.Hour + time.Second)
	env.Do(t, "POST", "/api/v1/auth/password/reset", "", map[string]string{"token": token, "password": "another-fine-passphrase"}).
		WantError(t, 400, "invalid_token")
}

func TestTOTP(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "teacher")
	var enr struct {
		Secret string `json:"secret"`
		URL    string `json:"otpauth_url"`
	}
	env.Do(t, "POST", "/api/v1/auth/2fa/enroll", u.Token, nil).Want(t, 200).JSON(t, &enr)
	if enr.Secret == "" || !strings.HasPrefix(enr.URL, "otpauth://totp/") {
		t.Fatalf("enrolment = %+v", enr)
	}
	code := func() string {
		c, err := auth.TOTPCode(enr.Secret, env.Clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	env.Do(t, "POST", "/api/v1/auth/2fa/confirm", u.Token, map[string]string{"code": "000000"}).WantError(t, 422, "totp_invalid")
	env.Do(t, "POST", "/api/v1/auth/2fa/confirm", u.Token, map[string]string{"code": code()}).Want(t, 200)
	env.Do(t, "POST", "/api/v1/auth/2fa/enroll", u.Token, nil).WantError(t, 409, "totp_already_enabled")
	var stored string
	if err := env.Server.Pool.QueryRow(context.Background(), `SELECT totp_secret FROM users WHERE id = $1`, u.ID).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored, "v1:") || strings.Contains(stored, enr.Secret) {
		t.Errorf("TOTP seed stored in the clear: %q", stored)
	}

	login(t, env, u.Email, u.Password, "").WantError(t, 401, "totp_required")
	login(t, env, u.Email, u.Password, "123456").WantError(t, 401, "totp_invalid")
	env.Clock.Advance(30 * time.Second) // the confirm code's step is spent
	c := code()
	login(t, env, u.Email, u.Password, c).Want(t, 200)
	login(t, env, u.Email, u.Password, c).WantError(t, 401, "totp_invalid") // replay
	if me := env.Do(t, "GET", "/api/v1/me", u.Token, nil).Want(t, 200).Map(t); me["two_factor_enabled"] != true {
		t.Error("two_factor_enabled false")
	}

	env.Clock.Advance(30 * time.Second)
	env.Do(t, "POST", "/api/v1/auth/2fa/disable", u.Token, map[string]string{"password": "wrong-password-1", "code": code()}).
		WantError(t, 422, "invalid_credentials")
	env.Do(t, "POST", "/api/v1/auth/2fa/disable", u.Token, map[string]string{"password": u.Password, "code": code()}).Want(t, 200)
	login(t, env, u.Email, u.Password, "").Want(t, 200)
	env.Do(t, "POST", "/api/v1/auth/2fa/disable", u.Token, map[string]string{"password": u.Password, "code": code()}).
		WantError(t, 409, "totp_not_enabled")
}

func TestSessionsAndLogout(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "student")
	phone := *u
	env.Login(t, &phone)
	var list struct {
		Items []struct {
			ID      string `json:"id"`
			Current bool   `json:"current"`
		} `json:"items"`
	}
	env.Do(t, "GET", "/api/v1/me/sessions", u.Token, nil).Want(t, 200).JSON(t, &list)
	if len(list.Items) != 2 {
		t.Fatalf("%d sessions, want 2", len(list.Items))
	}
	for _, s := range list.Items {
		if s.Current != (s.ID == u.SessionID) {
			t.Errorf("session %s current=%v", s.ID, s.Current)
		}
	}
	// Another user cannot revoke (or learn about) this user's session.
	mallory := env.NewUser(t, "student")
	env.Do(t, "DELETE", "/api/v1/me/sessions/"+phone.SessionID, mallory.Token, nil).WantError(t, 404, "not_found")
	env.Do(t, "GET", "/api/v1/me", phone.Token, nil).Want(t, 200)

	env.Do(t, "DELETE", "/api/v1/me/sessions/"+phone.SessionID, u.Token, nil).Want(t, 204)
	env.Do(t, "GET", "/api/v1/me", phone.Token, nil).WantError(t, 401, "invalid_token")
	env.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": phone.RefreshToken}).WantError(t, 401, "invalid_refresh_token")

	tablet := *u
	env.Login(t, &tablet)
	env.Do(t, "DELETE", "/api/v1/me/sessions", u.Token, nil).Want(t, 200)
	env.Do(t, "GET", "/api/v1/me", tablet.Token, nil).WantError(t, 401, "invalid_token")
	env.Do(t, "POST", "/api/v1/auth/logout", u.Token, nil).Want(t, 204)
	env.Do(t, "GET", "/api/v1/me", u.Token, nil).WantError(t, 401, "invalid_token")
}

func TestMeUpdate(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "teacher")
	me := env.Do(t, "PATCH", "/api/v1/me", u.Token, map[string]string{"name": "Grace <b>H</b>", "time_zone": "Europe/Paris",
		"bio": "I teach ' OR 1=1 --"}).Want(t, 200).Map(t)
	if me["name"] != "Grace <b>H</b>" || me["time_zone"] != "Europe/Paris" || me["bio"] != "I teach ' OR 1=1 --" {
		t.Errorf("profile = %v", me)
	}
	env.Do(t, "PATCH", "/api/v1/me", u.Token, map[string]string{"time_zone": "Mars/Olympus"}).WantError(t, 422, "validation_failed")
	env.Do(t, "PATCH", "/api/v1/me", u.Token, map[string]any{"role": "admin"}).WantError(t, 422, "validation_failed")
	env.Do(t, "GET", "/api/v1/me", "", nil).WantError(t, 401, "unauthenticated")
}
