package controlplane_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// cookieOf returns the Set-Cookie of name in res, or nil.
func cookieOf(res *cptest.Response, name string) *http.Cookie {
	for _, c := range (&http.Response{Header: res.Header}).Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// Browser sessions: with X-Atrium-CSRF the refresh token is an httpOnly, SameSite=Strict
// cookie scoped to the auth API and never in a body; the cookie refreshes (what a new tab
// does) only with the header from our own origin; logging out by cookie revokes the session
// every tab shares; API clients that send the refresh token in the body work as before.
func TestCookieSessions(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "student")
	csrf := map[string]string{"X-Atrium-CSRF": "1", "Origin": env.URL, "Sec-Fetch-Site": "same-origin"}

	res := env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/login", Headers: csrf,
		Body: map[string]string{"email": u.Email, "password": u.Password}}).Want(t, http.StatusOK)
	if strings.Contains(string(res.Body), "refresh_token") {
		t.Fatalf("cookie-mode login returned the refresh token in its body: %s", res.Body)
	}
	c := cookieOf(res, "atrium_refresh")
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/api/v1/auth" || c.Secure || c.MaxAge <= 0 {
		t.Fatalf("session cookie = %+v, want httpOnly, SameSite=Strict, path /api/v1/auth, not Secure over plain http", c)
	}
	if h := cookieOf(res, "atrium_session"); h == nil || h.HttpOnly || h.Value != "1" || h.Path != "/" {
		t.Fatalf("hint cookie = %+v", h)
	}
	var first struct {
		AccessToken string `json:"access_token"`
	}
	res.JSON(t, &first)

	withCookie := func(headers map[string]string, cookie string) map[string]string {
		out := map[string]string{"Cookie": "atrium_refresh=" + cookie}
		for k, v := range headers {
			out[k] = v
		}
		return out
	}
	// Another tab: no body, the cookie and the header.
	res = env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Headers: withCookie(csrf, c.Value)}).
		Want(t, http.StatusOK)
	next := cookieOf(res, "atrium_refresh")
	if next == nil || next.Value == c.Value || strings.Contains(string(res.Body), "refresh_token") {
		t.Fatalf("refresh by cookie: new cookie %+v, body %s", next, res.Body)
	}
	var tab2 struct {
		AccessToken string `json:"access_token"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	res.JSON(t, &tab2)
	if tab2.User.ID != u.ID {
		t.Fatalf("the second tab is %q, want %q", tab2.User.ID, u.ID)
	}
	env.Do(t, "GET", "/api/v1/me", tab2.AccessToken, nil).Want(t, http.StatusOK)

	// Cross-site attempts with the (valid) cookie are refused and change nothing.
	for name, h := range map[string]map[string]string{
		"no CSRF header":             {"Origin": "http://evil.example"},
		"header from another origin": {"X-Atrium-CSRF": "1", "Origin": "http://evil.example"},
		"header, cross-site fetch":   {"X-Atrium-CSRF": "1", "Sec-Fetch-Site": "cross-site"},
		"same-site other port":       {"X-Atrium-CSRF": "1", "Origin": "http://127.0.0.1:1", "Sec-Fetch-Site": "same-site"},
		"no header, no origin":       {},
	} {
		for _, path := range []string{"/api/v1/auth/refresh", "/api/v1/auth/logout"} {
			r := env.DoRequest(t, cptest.Request{Method: "POST", Path: path, Headers: withCookie(h, next.Value)})
			if r.Status != http.StatusForbidden || r.ErrorCode() != "csrf_failed" {
				t.Fatalf("%s: POST %s = %d %s, want 403 csrf_failed", name, path, r.Status, r.Body)
			}
		}
	}
	env.Do(t, "GET", "/api/v1/me", tab2.AccessToken, nil).Want(t, http.StatusOK)

	// A tab whose access token lapsed signs out with the cookie: the session every tab
	// shares ends, so the first tab's token stops working too.
	res = env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/logout", Headers: withCookie(csrf, next.Value)}).
		Want(t, http.StatusNoContent)
	if gone := cookieOf(res, "atrium_refresh"); gone == nil || gone.MaxAge >= 0 {
		t.Fatalf("logout did not clear the cookie: %+v", gone)
	}
	for _, tok := range []string{first.AccessToken, tab2.AccessToken} {
		env.Do(t, "GET", "/api/v1/me", tok, nil).WantError(t, http.StatusUnauthorized, "invalid_token")
	}
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Headers: withCookie(csrf, next.Value)}).
		WantError(t, http.StatusUnauthorized, "invalid_refresh_token")
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/refresh", Headers: csrf}).
		WantError(t, http.StatusUnauthorized, "invalid_refresh_token")

	// API clients: the refresh token in the body, no header, no cookie.
	env.Login(t, u)
	res = env.Do(t, "POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": u.RefreshToken}).Want(t, http.StatusOK)
	var api struct {
		RefreshToken string `json:"refresh_token"`
	}
	res.JSON(t, &api)
	if api.RefreshToken == "" || cookieOf(res, "atrium_refresh") != nil {
		t.Fatalf("an API client's refresh: token %q, cookie %v", api.RefreshToken, cookieOf(res, "atrium_refresh"))
	}
	// The body wins over a cookie and needs no header (a stolen cookie alone is not it).
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/refresh",
		Body: map[string]string{"refresh_token": api.RefreshToken}, Headers: map[string]string{"Cookie": "atrium_refresh=garbage"}}).
		Want(t, http.StatusOK)
}

// Over TLS (an https public URL) the session cookies are Secure.
func TestCookieSessionsSecureOnTLS(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) { c.HTTP.PublicURL = "https://atrium.test" }})
	u := env.NewUser(t, "student")
	res := env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/auth/login",
		Headers: map[string]string{"X-Atrium-CSRF": "1", "Origin": "https://atrium.test"},
		Body:    map[string]string{"email": u.Email, "password": u.Password}}).Want(t, http.StatusOK)
	for _, name := range []string{"atrium_refresh", "atrium_session"} {
		if c := cookieOf(res, name); c == nil || !c.Secure {
			t.Fatalf("%s = %+v, want Secure", name, c)
		}
	}
}
