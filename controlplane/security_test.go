package controlplane_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

func TestAccessTokenAttacks(t *testing.T) {
	env := cptest.Serve(t)
	u := env.NewUser(t, "admin")
	parts := strings.Split(u.Token, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])

	sign := func(c jwt.MapClaims, secret string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	var base jwt.MapClaims
	if err := json.Unmarshal(claims, &base); err != nil {
		t.Fatal(err)
	}
	with := func(k string, v any) jwt.MapClaims {
		c := jwt.MapClaims{}
		for kk, vv := range base {
			c[kk] = vv
		}
		c[k] = v
		return c
	}
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, base).SignedString([]byte(env.Config.Auth.JWTSecret))
	for name, tok := range map[string]string{
		"alg none":         none,
		"forged signature": parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString([]byte("forged")),
		"other secret":     sign(base, "attacker-secret-attacker-secret-000"),
		"wrong algorithm":  hs512,
		"wrong issuer":     sign(with("iss", "evil"), env.Config.Auth.JWTSecret),
		"wrong audience":   sign(with("aud", "other"), env.Config.Auth.JWTSecret),
		"expired":          sign(with("exp", time.Now().Add(-time.Minute).Unix()), env.Config.Auth.JWTSecret),
		"no expiry":        sign(with("exp", nil), env.Config.Auth.JWTSecret),
		"other subject":    sign(with("sub", "00000000-0000-0000-0000-000000000000"), env.Config.Auth.JWTSecret),
		"unknown session":  sign(with("sid", "00000000-0000-0000-0000-000000000000"), env.Config.Auth.JWTSecret),
		"not a jwt":        "hello",
	} {
		t.Run(name, func(t *testing.T) {
			env.Do(t, "GET", "/api/v1/admin/users", tok, nil).WantError(t, 401, "invalid_token")
		})
	}
	env.DoRequest(t, cptest.Request{Method: "GET", Path: "/api/v1/me", Headers: map[string]string{"Authorization": "Basic Zm9vOmJhcg=="}}).
		WantError(t, 401, "invalid_token")
	// The genuine token works until it expires (15 minutes).
	env.Do(t, "GET", "/api/v1/admin/users", u.Token, nil).Want(t, 200)
	env.Clock.Advance(15*time.Minute + time.Second)
	env.Do(t, "GET", "/api/v1/admin/users", u.Token, nil).WantError(t, 401, "invalid_token")
}

func TestHeadersAndOperations(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) {
		c.HTTP.CORSOrigins = []string{"https://app.atrium.test"}
	}})
	res := env.DoRequest(t, cptest.Request{Method: "GET", Path: "/api/v1/classes", Headers: map[string]string{"X-Request-ID": "client-chosen-id-1"}}).Want(t, 200)
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"X-Frame-Options":        "DENY",
		"Referrer-Policy":        "no-referrer",
		"X-Request-Id":           "client-chosen-id-1",
		"Cache-Control":          "no-store",
	} {
		if got := res.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	// The classroom's SDK fetches /rtc/validate from the SFU's http origin on failures.
	sfuOrigin := strings.Replace(strings.Replace(env.Config.LiveKit.URL, "wss://", "https://", 1), "ws://", "http://", 1)
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "connect-src 'self' ws: wss: "+sfuOrigin+";") {
		t.Errorf("CSP = %q, want connect-src to allow the SFU origin %s", csp, sfuOrigin)
	}
	if id := env.DoRequest(t, cptest.Request{Method: "GET", Path: "/healthz", Headers: map[string]string{"X-Request-ID": "bad id <x>"}}).Header.Get("X-Request-Id"); len(id) != 24 {
		t.Errorf("malformed request id not replaced: %q", id)
	}

	// CORS: allowed origin gets the headers, others do not, preflight from others is refused.
	pre := func(origin string) *cptest.Response {
		return env.DoRequest(t, cptest.Request{Method: "OPTIONS", Path: "/api/v1/auth/login", Headers: map[string]string{
			"Origin": origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"}})
	}
	if r := pre("https://app.atrium.test"); r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.atrium.test" {
		t.Errorf("allowed preflight: %d %v", r.Status, r.Header)
	}
	if r := pre("https://evil.test"); r.Status != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("foreign preflight: %d %v", r.Status, r.Header)
	}
	r := env.DoRequest(t, cptest.Request{Method: "GET", Path: "/api/v1/classes", Headers: map[string]string{"Origin": "https://evil.test"}})
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("foreign origin allowed")
	}

	env.Do(t, "GET", "/api/v1/nope", "", nil).WantError(t, 404, "not_found")
	env.Do(t, "DELETE", "/api/v1/classes", "", nil).WantError(t, 405, "method_not_allowed")

	var spec struct {
		OpenAPI string         `json:"openapi"`
		Paths   map[string]any `json:"paths"`
	}
	env.Do(t, "GET", "/api/openapi.json", "", nil).Want(t, 200).JSON(t, &spec)
	for _, p := range []string{"/auth/register", "/auth/login", "/classes", "/classes/{id}/join", "/webhooks/livekit", "/admin/audit-log"} {
		if spec.Paths[p] == nil {
			t.Errorf("spec lacks %s", p)
		}
	}

	metrics := env.Scrape(t)
	if !strings.Contains(metrics, `atrium_controlplane_http_requests_total{method="GET",route="/api/v1/classes",status="200"}`) {
		t.Errorf("metrics lack the classes route counter")
	}
	if strings.Contains(metrics, "client-chosen-id") {
		t.Error("metrics carry request ids (unbounded cardinality)")
	}

	// Liveness never depends on PostgreSQL; readiness does.
	env.Do(t, "GET", "/readyz", "", nil).Want(t, 200)
	env.Server.Pool.Close()
	env.Do(t, "GET", "/healthz", "", nil).Want(t, 200)
	env.Do(t, "GET", "/readyz", "", nil).WantError(t, 503, "unavailable")
}

func TestRateLimits(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) {
		c.RateLimit = controlplane.RateLimitConfig{Enabled: true, IPPerMinute: 20, UserPerMinute: 5, AuthPerMinute: 3, ForgotPerHour: 1}
	}})
	u := env.NewUser(t, "student") // spends one auth request (login)
	for range 2 {
		login(t, env, u.Email, "wrong-password-z", "").WantError(t, 401, "invalid_credentials")
	}
	res := login(t, env, u.Email, u.Password, "").WantError(t, 429, "rate_limited")
	if ra := res.Header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After = %q", ra)
	}
	// The per-user limit is separate from the per-IP auth limit.
	for range 5 {
		env.Do(t, "GET", "/api/v1/me", u.Token, nil).Want(t, 200)
	}
	env.Do(t, "GET", "/api/v1/me", u.Token, nil).WantError(t, 429, "rate_limited")
	// Anonymous reads are still allowed (only the per-IP limit applies).
	env.Do(t, "GET", "/api/v1/classes", "", nil).Want(t, 200)
	// Webhooks from the SFU are not limited per IP.
	for i := range 15 {
		env.SendWebhook(t, cptest.RoomEvent("EV_rl_"+cptest.RandomHex(4)+string(rune('a'+i)), "room_started", "lobby", time.Now())).Want(t, 200)
	}
	// The per-IP limit (20/min) does catch anonymous traffic.
	limited := false
	for range 20 {
		if env.Do(t, "GET", "/api/v1/classes", "", nil).Status == 429 {
			limited = true
			break
		}
	}
	if !limited {
		t.Error("per-IP limit never applied")
	}
	// Another server (another Redis prefix) is not affected: tests stay isolated.
	other := cptest.Serve(t)
	w := other.NewUser(t, "student")
	other.Do(t, "GET", "/api/v1/me", w.Token, nil).Want(t, 200)
}

func TestForgotPasswordPerAddressLimit(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) { c.RateLimit.ForgotPerHour = 2 }})
	u := env.NewUser(t, "student")
	for range 4 {
		env.Do(t, "POST", "/api/v1/auth/password/forgot", "", map[string]string{"email": u.Email}).Want(t, 202)
	}
	cptest.WaitEmail(t, u.Email, "Reset")
	time.Sleep(time.Second) // let any extra deliveries land
	n := 0
	for _, m := range cptest.MailTo(t, u.Email) {
		if strings.Contains(m.Subject, "Reset") {
			n++
		}
	}
	if n != 2 {
		t.Errorf("%d reset emails for 4 requests with a limit of 2 per hour", n)
	}
}

// onlyReader hides the length of its body, so the client streams it chunked.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestChunkedBodyOverLimit(t *testing.T) {
	env := cptest.Serve(t)
	body := `{"email":"` + strings.Repeat("a", 2<<20) + `","password":"x","name":"x","role":"student"}`
	req, err := http.NewRequest("POST", env.URL+"/api/v1/auth/register", onlyReader{strings.NewReader(body)})
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != 413 || !strings.Contains(string(raw), `"body_too_large"`) {
		t.Fatalf("chunked oversized body: %d %s", res.StatusCode, raw)
	}
}
