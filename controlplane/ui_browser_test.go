package controlplane_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// uiBrowser is the toolchain the UI browser tests need: node, Debian's chromium,
// playwright-core (from tests/browser/node_modules) and livekit-client (from web/node_modules,
// served to the pages by the control plane). scripts/test-deps.sh installs all of them.
type uiBrowser struct {
	node, chromium, modules, vendor, hls string
}

// needBrowser finds the toolchain or fails the test saying how to install it (never skips).
func needBrowser(t *testing.T) uiBrowser {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("this test needs node on PATH (%v); run ./scripts/test-deps.sh", err)
	}
	b := uiBrowser{node: node, chromium: os.Getenv("ATRIUM_CHROMIUM")}
	if b.chromium == "" {
		b.chromium = "/usr/bin/chromium"
	}
	b.modules, _ = filepath.Abs("../tests/browser/node_modules")
	b.vendor, _ = filepath.Abs("../web/node_modules/livekit-client/dist")
	b.hls, _ = filepath.Abs("../web/node_modules/hls.js/dist")
	for _, p := range []string{b.chromium, filepath.Join(b.modules, "playwright-core", "package.json"),
		filepath.Join(b.vendor, "livekit-client.umd.js"), filepath.Join(b.hls, "hls.min.js")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("this test needs %s (%v); run ./scripts/test-deps.sh", p, err)
		}
	}
	return b
}

// serveUI starts a control plane with the UI (livekit-client from web/node_modules).
func (b uiBrowser) serveUI(t *testing.T, cfg func(*controlplane.Config)) *cptest.Env {
	return cptest.Serve(t, cptest.Options{
		Config: cfg,
		Deps: func(d *controlplane.Deps) {
			d.UI = controlplane.NewUI(controlplane.UIConfig{VendorDir: b.vendor, HLSDir: b.hls})
		},
	})
}

type uiResult struct {
	OK      bool            `json:"ok"`
	Error   string          `json:"error"`
	Console []string        `json:"console"`
	Data    json.RawMessage `json:"data"`
}

// run executes one scenario of testdata/ui_run.js with cfg (scenario, base URL and its
// fields; chromium, timeout and screenshots are filled in) and decodes its data into out.
// With ATRIUM_UI_SCREENSHOTS=DIR the scenario saves PNGs of the pages it visits there.
func (b uiBrowser) run(t *testing.T, cfg map[string]any, out any) (console []string) {
	t.Helper()
	timeout := 60 * time.Second
	if d, ok := cfg["timeout"].(time.Duration); ok { // a longer scenario says so
		timeout = d
		delete(cfg, "timeout")
	}
	cfg["chromium"] = b.chromium
	cfg["timeoutMs"] = timeout.Milliseconds()
	cfg["screenshots"] = ""
	if dir := os.Getenv("ATRIUM_UI_SCREENSHOTS"); dir != "" {
		abs, err := filepath.Abs(dir)
		if err != nil || os.MkdirAll(abs, 0o755) != nil {
			t.Fatalf("ATRIUM_UI_SCREENSHOTS=%q is not a usable directory", dir)
		}
		cfg["screenshots"] = abs
	}
	tmp := t.TempDir()
	cfgPath, resPath := filepath.Join(tmp, "config.json"), filepath.Join(tmp, "result.json")
	raw, _ := json.Marshal(cfg)
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	browserTmp := filepath.Join(tmp, "browser")
	if err := os.Mkdir(browserTmp, 0o700); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout+30*time.Second)
	defer cancel()
	script, _ := filepath.Abs("testdata/ui_run.js")
	cmd := exec.CommandContext(ctx, b.node, script, cfgPath, resPath)
	cmd.Env = append(os.Environ(), "NODE_PATH="+b.modules, "TMPDIR="+browserTmp)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	start := time.Now()
	runErr := cmd.Run()
	t.Logf("scenario %v ran in %v", cfg["scenario"], time.Since(start).Round(time.Millisecond))
	resRaw, err := os.ReadFile(resPath)
	if err != nil {
		t.Fatalf("ui_run.js wrote no result (%v; exit %v)\n%s", err, runErr, log.String())
	}
	var res uiResult
	if err := json.Unmarshal(resRaw, &res); err != nil {
		t.Fatalf("decode result: %v\n%s", err, resRaw)
	}
	if len(res.Data) > 0 {
		if err := json.Unmarshal(res.Data, out); err != nil {
			t.Fatalf("decode data: %v\n%s", err, res.Data)
		}
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("ATRIUM_BROWSER_LOG") == "1" {
			t.Logf("runner log:\n%s\ndata: %s", log.String(), res.Data)
		}
	})
	if !res.OK {
		t.Fatalf("scenario %v broke off: %s\nconsole:\n  %s", cfg["scenario"], uiFirstLine(res.Error), strings.Join(res.Console, "\n  "))
	}
	if runErr != nil {
		t.Fatalf("ui_run.js: %v", runErr)
	}
	return res.Console
}

func uiFirstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// grantCredits gives user credits through the admin API.
func grantCredits(t *testing.T, env *cptest.Env, admin *cptest.User, userID string, credits int) {
	t.Helper()
	env.Do(t, "POST", "/api/v1/admin/credits/grants", admin.Token,
		map[string]any{"user_id": userID, "credits": credits, "reason": "browser test"}).Want(t, 201)
}

// TestUIFlowInBrowser is the student journey through the real UI: a wrong password is
// refused, sign-in, discovery search and a tier filter, a class page, booking without enough
// credits (the 402 shortfall, then the wallet with what Checkout would do in development),
// booking with credits (the refund policy, the wallet movement, "My classes"), and
// registration with a field error first. Teacher and admin pages are opened too.
func TestUIFlowInBrowser(t *testing.T) {
	b := needBrowser(t)
	env := b.serveUI(t, nil)
	teacher := env.NewUser(t, "teacher")
	admin := env.NewUser(t, "admin")
	poor := env.NewUser(t, "student")
	rich := env.NewUser(t, "student")
	grantCredits(t, env, admin, rich.ID, 40)
	title := "Browser class " + cptest.RandomHex(3)
	class := env.CreateClass(t, teacher, cptest.ClassSpec{Title: title, Price: 15, Capacity: 4})
	full := env.CreateClass(t, teacher, cptest.ClassSpec{Title: "Full class " + cptest.RandomHex(3), Capacity: 1})
	taker := env.NewUser(t, "student")
	grantCredits(t, env, admin, taker.ID, 10)
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + full["id"].(string) + "/bookings", Token: taker.Token,
		Headers: map[string]string{"Idempotency-Key": "ui-full-" + cptest.RandomHex(4)}}).Want(t, 201)

	var d struct {
		LoginError, Who, Seats, Price, Shortfall, WalletNotice, CheckoutDev     string
		Booked, Policy, SeatsAfter, RichBalance, RegisteredWho, Welcome, Ledger string
		CreatedPrice, CancelDialog, CancelToast, Waitlist                       string
		ClassFieldErrors, DiscountRows, RefundRows                              []string
		TOTPSecret                                                              string
		Titles, VIPTitles, Packages, RichLines, Upcoming, RegisterFieldErrors   []string
	}
	newEmail := cptest.UniqueEmail("newcomer")
	newTitle := "Made in the browser " + cptest.RandomHex(3)
	console := b.run(t, map[string]any{"scenario": "flow", "base": env.URL, "title": title, "classID": class["id"], "fullClassID": full["id"],
		"poor":     map[string]string{"email": poor.Email, "password": poor.Password},
		"rich":     map[string]string{"email": rich.Email, "password": rich.Password},
		"teacher":  map[string]string{"email": teacher.Email, "password": teacher.Password},
		"admin":    map[string]string{"email": admin.Email, "password": admin.Password},
		"newEmail": newEmail, "newPassword": "a-long-enough-passphrase-91", "newTitle": newTitle, "code": "SAVE" + cptest.RandomHex(2)}, &d)

	check := func(what, got, want string) {
		t.Helper()
		if !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", what, got, want)
		}
	}
	check("wrong-password message", d.LoginError, "wrong email or password")
	check("signed-in header", d.Who, poor.Name+" (student)")
	if len(d.Titles) == 0 || d.Titles[0] != title {
		t.Errorf("search for %q listed %q", title, d.Titles)
	}
	for _, v := range d.VIPTitles {
		if v == title {
			t.Errorf("the VIP filter still lists the basic class %q", title)
		}
	}
	check("seats", d.Seats, "4 of 4 left")
	check("price", d.Price, "15 credits")
	check("shortfall", d.Shortfall, "you need 15 credits more")
	check("shortfall", d.Shortfall, "Price 15 credits, your balance 0 credits")
	check("wallet notice", d.WalletNotice, "You need 15 credits more")
	if strings.Join(d.Packages, ",") != "starter,standard,pro" {
		t.Errorf("packages on sale = %v", d.Packages)
	}
	check("development checkout", d.CheckoutDev, "Stripe Checkout")
	check("development checkout", d.CheckoutDev, "status pending")
	check("booking message", d.Booked, "You are booked (15 credits paid)")
	check("refund policy", d.Policy, "24 hours before the start for a full refund")
	check("seats after booking", d.SeatsAfter, "3 of 4 left")
	check("balance after booking", d.RichBalance, "25 credits")
	if len(d.RichLines) < 2 || !strings.Contains(d.RichLines[0], "-15") {
		t.Errorf("wallet movements = %q, want the booking (-15) first", d.RichLines)
	}
	if len(d.Upcoming) != 1 || !strings.Contains(d.Upcoming[0], title) {
		t.Errorf("my classes = %q", d.Upcoming)
	}
	if len(d.RegisterFieldErrors) == 0 {
		t.Error("registering with a short password showed no field error")
	}
	check("cancel confirmation", d.CancelDialog, "You get a full refund")
	check("cancel result", d.CancelToast, "Booking cancelled: 15 credits refunded")
	check("waitlist", d.Waitlist, "You are number 1 on the waitlist")
	// The admin list is global and other tests share the database: count this class's rows.
	var ours []string
	for _, r := range d.RefundRows {
		if strings.Contains(r, title) {
			ours = append(ours, r)
		}
	}
	if len(ours) != 1 || !strings.Contains(ours[0], "student_cancellation") {
		t.Errorf("admin refunds of %q = %q (all rows %q), want the student's one cancellation", title, ours, d.RefundRows)
	}
	if len(d.TOTPSecret) < 16 {
		t.Errorf("two-factor enrolment showed the key %q", d.TOTPSecret)
	}
	check("registered header", d.RegisteredWho, "Browser Newcomer (student)")
	check("welcome", d.Welcome, newEmail)
	check("ledger check", d.Ledger, "The ledger is balanced")
	if len(d.ClassFieldErrors) != 1 || !strings.Contains(d.ClassFieldErrors[0], "50") {
		t.Errorf("a basic class priced 5000 credits showed field errors %q, want the price bound", d.ClassFieldErrors)
	}
	check("price of the class made in the browser", d.CreatedPrice, "12 credits")
	if len(d.DiscountRows) != 1 || !strings.Contains(d.DiscountRows[0], "10% off") || !strings.Contains(d.DiscountRows[0], "this class") {
		t.Errorf("discount codes after creating one = %q", d.DiscountRows)
	}
	// The only console errors allowed are the browser reporting the deliberate 401 (wrong
	// password), 402 (shortfall), 422 (field errors) and the 404 of "not on the waitlist".
	for _, e := range console {
		if !strings.Contains(e, "401") && !strings.Contains(e, "402") && !strings.Contains(e, "422") && !strings.Contains(e, "404") {
			t.Errorf("console: %s", e)
		}
	}
}

// TestUIEmailLinksInBrowser follows the account emails through the UI: registration, the
// confirmation link from mailpit (a server path the app maps to its route), a forgotten
// password, the reset link, the old password refused and the new one accepted.
func TestUIEmailLinksInBrowser(t *testing.T) {
	b := needBrowser(t)
	env := b.serveUI(t, nil)
	email := cptest.UniqueEmail("emails")
	var d struct {
		Who, VerifyPath, Verified, HashAfterVerify, AccountNotice, Forgot string
		OldPasswordError, WhoAfterReset, Landing                          string
	}
	b.run(t, map[string]any{"scenario": "emails", "base": env.URL, "mailpit": cptest.MailpitURL, "email": email,
		"password": "first-passphrase-for-tests-1", "newPassword": "second-passphrase-for-tests-2"}, &d)
	check := func(what, got, want string) {
		t.Helper()
		if !strings.Contains(got, want) {
			t.Errorf("%s = %q, want it to contain %q", what, got, want)
		}
	}
	check("header after registering", d.Who, "Email Tester (teacher)")
	check("confirmation link", d.VerifyPath, "/verify-email")
	check("confirmation page", d.Verified, "Your email is confirmed")
	check("address after the link", d.HashAfterVerify, "/#/verify")
	if d.AccountNotice != "" {
		t.Errorf("account page still asks to confirm the email: %q", d.AccountNotice)
	}
	check("forgot-password answer", d.Forgot, "If an account uses this address")
	check("old password", d.OldPasswordError, "wrong email or password")
	check("header after reset", d.WhoAfterReset, "Email Tester (teacher)")
	check("teacher's landing page", d.Landing, "#/teach")
}
