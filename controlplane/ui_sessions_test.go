package controlplane_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

// TestUISessionsAcrossTabsInBrowser (issue 14, acceptance 4 and 5): in one Chromium, a second
// tab opened from an email link is signed in by the session cookie (httpOnly, invisible to
// scripts; the access token only in memory); a booking made in one tab is pushed to the
// other's open page; a form posted from a page on another origin (another port of the same
// host, so the browser does send the cookie) is refused for want of the CSRF header and signs
// no one out; signing out in one tab signs out the other at once and kills its token.
func TestUISessionsAcrossTabsInBrowser(t *testing.T) {
	b := needBrowser(t)
	env := b.serveUI(t, nil)
	admin, teacher, student := env.NewUser(t, "admin"), env.NewUser(t, "teacher"), env.NewUser(t, "student")
	grantCredits(t, env, admin, student.ID, 50)
	class := env.CreateClass(t, teacher, cptest.ClassSpec{Title: "Tabs " + cptest.RandomHex(3), Price: 10})

	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><form id="f" method="POST" action="%s/api/v1/auth/logout"></form>
<script>document.getElementById("f").submit()</script>`, html.EscapeString(env.URL))
	}))
	defer evil.Close()

	var got struct {
		Who1, Who2, Hash2 string
		Cookies           []struct {
			Name, Path, SameSite string
			HTTPOnly             bool `json:"httpOnly"`
		}
		ScriptSeesRefreshCookie bool
		StoredKeys              []string
		TokensInMemory          bool
		BookStatus              int
		PushDelayMs             float64
		Toast                   string
		EvilStatus              int
		EvilBody                string
		EvilRequestHeaders      map[string]string
		AfterAttackStatus       int
		Who2AfterLogout         string
		LoginLinkVisible2       bool
		OldTokenStatus          int
		Who3                    string
	}
	b.run(t, map[string]any{"scenario": "sessions", "timeout": 2 * time.Minute, "base": env.URL, "evil": evil.URL, "classID": class["id"],
		"student": map[string]string{"email": student.Email, "password": student.Password}}, &got)

	if got.Who1 == "" || got.Who2 != got.Who1 || got.Hash2 != "#/class/"+class["id"].(string) {
		t.Fatalf("second tab: who %q (first %q), at %q", got.Who2, got.Who1, got.Hash2)
	}
	var refresh bool
	for _, c := range got.Cookies {
		if c.Name == "atrium_refresh" {
			refresh = c.HTTPOnly && c.SameSite == "Strict" && c.Path == "/api/v1/auth"
		}
	}
	if !refresh || got.ScriptSeesRefreshCookie || len(got.StoredKeys) != 0 || !got.TokensInMemory {
		t.Fatalf("cookie %+v (scripts see it: %v), web storage keys %v, access token in memory only: %v",
			got.Cookies, got.ScriptSeesRefreshCookie, got.StoredKeys, got.TokensInMemory)
	}
	t.Logf("booking in tab 1 shown by tab 2's notification stream %.0f ms after the request was sent", got.PushDelayMs)
	if got.BookStatus != 201 || got.PushDelayMs > 2000 || !strings.HasPrefix(got.Toast, "Booked:") {
		t.Fatalf("push: booking %d, delay %.0f ms (want ≤ 2000), toast %q", got.BookStatus, got.PushDelayMs, got.Toast)
	}
	if got.EvilStatus != 403 || !strings.Contains(got.EvilBody, "csrf_failed") || !strings.Contains(got.EvilRequestHeaders["cookie"], "atrium_refresh=") ||
		got.AfterAttackStatus != 200 {
		t.Fatalf("forged cross-origin logout: %d %s (request headers %v); the tab afterwards: %d",
			got.EvilStatus, got.EvilBody, got.EvilRequestHeaders, got.AfterAttackStatus)
	}
	if got.Who2AfterLogout != "" || !got.LoginLinkVisible2 || got.OldTokenStatus != 401 || got.Who3 != "" {
		t.Fatalf("after signing out in tab 1: tab 2 shows %q (sign-in link %v), its old token gets %d; a new tab shows %q",
			got.Who2AfterLogout, got.LoginLinkVisible2, got.OldTokenStatus, got.Who3)
	}
}
