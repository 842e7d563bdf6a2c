package controlplane_test

import (
	"strings"
	"testing"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

func TestUIServed(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Deps: func(d *controlplane.Deps) { d.UI = controlplane.UI() }})
	page := env.Do(t, "GET", "/", "", nil).Want(t, 200)
	if !strings.Contains(string(page.Body), `<script src="/app.js" defer></script>`) || strings.Contains(string(page.Body), "<script>") {
		t.Errorf("index.html must load app.js and hold no inline script:\n%s", page.Body)
	}
	if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP = %q", csp)
	}
	js := env.Do(t, "GET", "/app.js", "", nil).Want(t, 200)
	if ct := js.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
		t.Errorf("app.js Content-Type = %q", ct)
	}
	if strings.Contains(string(js.Body), "innerHTML") {
		t.Error("app.js uses innerHTML; user text must go through textContent")
	}
	env.Do(t, "GET", "/style.css", "", nil).Want(t, 200)
	env.Do(t, "GET", "/api/v1/nope", "", nil).WantError(t, 404, "not_found") // the UI never shadows the API
}
