package controlplane_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// TestUIInBrowser signs in, searches, opens a class and joins it through the real UI in
// headless chromium. It uses the browser-test toolchain (node, Debian's chromium and
// tests/browser/node_modules/playwright-core, installed by scripts/test-deps.sh) and fails,
// saying how to fix it, when one is missing.
func TestUIInBrowser(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("this test needs node on PATH (%v); run ./scripts/test-deps.sh", err)
	}
	chromium := os.Getenv("ATRIUM_CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	modules, _ := filepath.Abs("../tests/browser/node_modules")
	for _, p := range []string{chromium, filepath.Join(modules, "playwright-core", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("this test needs %s (%v); run ./scripts/test-deps.sh", p, err)
		}
	}
	env := cptest.Serve(t, cptest.Options{Deps: func(d *controlplane.Deps) { d.UI = controlplane.UI() }})
	teacher := env.NewUser(t, "teacher")
	title := "Browser class " + cptest.RandomHex(3)
	env.CreateClass(t, teacher, cptest.ClassSpec{Title: title, StartsIn: 5 * time.Minute})

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "testdata/ui_flow.js", env.URL, teacher.Email, teacher.Password, title, chromium)
	cmd.Env = append(os.Environ(), "NODE_PATH="+modules, "TMPDIR="+t.TempDir())
	cmd.WaitDelay = 5 * time.Second
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ui_flow.js: %v\nstdout: %s\nstderr: %s", err, out, stderr.String())
	}
	var res struct {
		OK            bool     `json:"ok"`
		Error         string   `json:"error"`
		LoginError    string   `json:"loginError"`
		Who           string   `json:"who"`
		Titles        []string `json:"titles"`
		JoinURL       string   `json:"joinURL"`
		Token         string   `json:"token"`
		ConsoleErrors []string `json:"consoleErrors"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ui_flow.js output %q: %v", out, err)
	}
	if !res.OK {
		t.Fatalf("browser flow failed: %s\nstderr: %s", res.Error, stderr.String())
	}
	if res.LoginError != "wrong email or password" {
		t.Errorf("wrong-password message = %q", res.LoginError)
	}
	if res.Who != teacher.Name+" (teacher)" {
		t.Errorf("signed-in header = %q", res.Who)
	}
	if res.JoinURL != env.Config.LiveKit.URL {
		t.Errorf("join url = %q", res.JoinURL)
	}
	verifyLiveKitToken(t, env, res.Token)
	// The only console error allowed is the browser reporting the deliberate 401.
	for _, e := range res.ConsoleErrors {
		if !strings.Contains(e, "401") {
			t.Errorf("console error: %s", e)
		}
	}
}
