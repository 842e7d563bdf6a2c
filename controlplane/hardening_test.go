package controlplane_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// Issue 17, finding 1: a small, deeply nested body sent unauthenticated to login cost 15 s
// of CPU and 1.5 GB in the OpenAPI validator's error rendering. It must be refused at once.
func TestDeeplyNestedJSONRefused(t *testing.T) {
	env := cptest.Serve(t)
	const depth = 3000 // enough to cost seconds and hundreds of MB without the limit
	body := `{"email":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `,"password":"x"}`
	res := env.Do(t, "POST", "/api/v1/auth/login", "", body).WantError(t, 400, "bad_json")
	if !strings.Contains(string(res.Body), "nests too deeply") {
		t.Errorf("body = %s, want it to name the nesting limit", res.Body)
	}
	// Just under the limit the validator runs and reports the field; the report stays small
	// (no schema or value dump).
	ok := `{"email":` + strings.Repeat("[", 30) + strings.Repeat("]", 30) + `,"password":"x"}`
	res = env.Do(t, "POST", "/api/v1/auth/login", "", ok).WantError(t, 422, "validation_failed")
	if len(res.Body) > 2048 {
		t.Errorf("validation error is %d bytes: %.300s", len(res.Body), res.Body)
	}
	// A wrong type with a large value is reported without echoing the value.
	big := `{"email":{"x":"` + strings.Repeat("a", 200<<10) + `"},"password":"x"}`
	res = env.Do(t, "POST", "/api/v1/auth/login", "", big).WantError(t, 422, "validation_failed")
	if len(res.Body) > 2048 {
		t.Errorf("validation error is %d bytes", len(res.Body))
	}
}

// Issue 17, finding 3: 120,000 requests with random methods grew /metrics to 203 MB. Method
// labels come from a closed set.
func TestMetricsLabelsClosed(t *testing.T) {
	env := cptest.Serve(t)
	for i := range 50 {
		res := env.DoRequest(t, cptest.Request{Method: "M" + cptest.RandomHex(6), Path: "/healthz"})
		if i == 0 && res.Status < 400 {
			t.Errorf("random method got %d", res.Status)
		}
	}
	env.DoRequest(t, cptest.Request{Method: "BREW", Path: "/api/v1/no-such-" + cptest.RandomHex(4)})
	m := env.Scrape(t)
	for _, line := range strings.Split(m, "\n") {
		if strings.HasPrefix(line, "atrium_controlplane_http_requests_total{") && strings.Contains(line, `method="M`) || strings.Contains(line, "BREW") || strings.Contains(line, "no-such-") {
			t.Fatalf("client-chosen label value in metrics: %s", line)
		}
	}
	if !strings.Contains(m, `method="other"`) {
		t.Error(`unknown methods not counted as method="other"`)
	}
}

// Issue 17, finding 12: /metrics answered anyone on the public port. It needs the operator
// token there, answers 404 when none is configured, and OpsHandler serves it for an internal
// listener.
func TestMetricsNeedToken(t *testing.T) {
	env := cptest.Serve(t)
	env.Do(t, "GET", "/metrics", "", nil).Want(t, 401)
	env.Do(t, "GET", "/metrics", "not-the-token", nil).Want(t, 401)
	u := env.NewUser(t, "admin") // a user's token is not the operator token
	env.Do(t, "GET", "/metrics", u.Token, nil).Want(t, 401)
	if m := env.Scrape(t); !strings.Contains(m, "atrium_controlplane_http_requests_total") {
		t.Error("metrics with the token lack the request counter")
	}

	closed := cptest.Serve(t, cptest.Options{Config: func(c *controlplane.Config) { c.HTTP.MetricsToken = "" }})
	closed.Do(t, "GET", "/metrics", "", nil).Want(t, 404)
	srv := httptest.NewServer(closed.Server.OpsHandler())
	defer srv.Close()
	for _, p := range []string{"/metrics", "/debug/pprof/cmdline"} {
		res, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("internal %s: %d, want 200", p, res.StatusCode)
		}
	}
}
