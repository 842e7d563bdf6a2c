package controlplane_test

import (
	"io/fs"
	"os"
	"path/filepath"
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
	// Every script index.html loads is served as JavaScript.
	for _, src := range []string{"/app.js", "/js/core.js", "/js/notify.js", "/js/auth.js", "/js/discover.js", "/js/wallet.js", "/js/teacher.js",
		"/js/admin.js", "/js/room-stage.js", "/js/room-people.js", "/js/room-talk.js", "/js/classroom.js"} {
		if !strings.Contains(string(page.Body), `src="`+src+`"`) {
			t.Errorf("index.html does not load %s", src)
		}
		js := env.Do(t, "GET", src, "", nil).Want(t, 200)
		if ct := js.Header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
			t.Errorf("%s Content-Type = %q", src, ct)
		}
	}
	env.Do(t, "GET", "/style.css", "", nil).Want(t, 200)
	env.Do(t, "GET", "/api/v1/nope", "", nil).WantError(t, 404, "not_found") // the UI never shadows the API
	env.Do(t, "GET", "/nope.js", "", nil).Want(t, 404)
}

// User text must never become markup: no UI script may use innerHTML, outerHTML,
// insertAdjacentHTML or document.write.
func TestUIScriptsSetNoHTML(t *testing.T) {
	n := 0
	err := filepath.WalkDir("ui", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %s; user text must go through textContent", p, bad)
			}
		}
		return nil
	})
	if err != nil || n < 8 {
		t.Fatalf("walked %d scripts: %v", n, err)
	}
}

// The links the server sends (emails, Stripe redirects) land on the app, not on a 404.
func TestUIAppPaths(t *testing.T) {
	env := cptest.Serve(t, cptest.Options{Deps: func(d *controlplane.Deps) { d.UI = controlplane.UI() }})
	for _, p := range []string{"/verify-email?token=abc", "/reset-password?token=abc", "/classes/0b6f9c1e-3f43-4f0e-9d3c-5a1d1b2e7f10",
		"/wallet?purchase=success", "/login"} {
		res := env.Do(t, "GET", p, "", nil).Want(t, 200)
		if !strings.Contains(string(res.Body), `<script src="/app.js" defer></script>`) {
			t.Errorf("GET %s did not serve the app", p)
		}
	}
	env.Do(t, "GET", "/classes/x/../../etc/passwd.js", "", nil) // must not panic; whatever status
}

// livekit-client is served from the configured directory, only the allow-listed files, and a
// missing install says how to fix it.
func TestUIVendorLibrary(t *testing.T) {
	dir := t.TempDir()
	lib := "/* livekit-client test double */ window.LivekitClient = {};\n"
	if err := os.WriteFile(filepath.Join(dir, "livekit-client.umd.js"), []byte(lib), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secret.txt"), []byte("nope"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := cptest.Serve(t, cptest.Options{Deps: func(d *controlplane.Deps) {
		d.UI = controlplane.NewUI(controlplane.UIConfig{VendorDir: dir})
	}})
	res := env.Do(t, "GET", "/assets/vendor/livekit-client.umd.js", "", nil).Want(t, 200)
	if string(res.Body) != lib || !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
		t.Errorf("vendor file = %q (%s)", res.Body, res.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/assets/vendor/secret.txt", "/assets/vendor/../vendor/secret.txt", "/assets/vendor/livekit-client.umd.js.map"} {
		res := env.Do(t, "GET", p, "", nil)
		if res.Status != 404 || strings.Contains(string(res.Body), "nope") {
			t.Errorf("GET %s = %d %q, want 404 without the file", p, res.Status, res.Body)
		}
	}

	missing := cptest.Serve(t, cptest.Options{Deps: func(d *controlplane.Deps) {
		d.UI = controlplane.NewUI(controlplane.UIConfig{VendorDir: filepath.Join(dir, "absent")})
	}})
	res = missing.Do(t, "GET", "/assets/vendor/livekit-client.umd.js", "", nil).Want(t, 404)
	if !strings.Contains(string(res.Body), "livekit-client is not installed") || !strings.Contains(string(res.Body), "npm ci") {
		t.Errorf("missing library answer = %q, want it to say how to install it", res.Body)
	}
}
