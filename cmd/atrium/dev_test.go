package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// freeAddr returns a 127.0.0.1 address nothing listens on right now (for a child process,
// which cannot be handed a listener).
func freeAddr(t *testing.T, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// TestDevRunsWholePlatform starts the real `atrium dev` binary (what `make run` does) on free
// ports and a fresh database, and checks that every role answers and the demo data works.
func TestDevRunsWholePlatform(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the whole platform")
	}
	bin := filepath.Join(t.TempDir(), "atrium")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dbName := fmt.Sprintf("atrium_devtest_%d", time.Now().UnixNano())
	pgURL := os.Getenv("ATRIUM_TEST_DATABASE_URL")
	if pgURL == "" {
		pgURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	dbURL := strings.Replace(pgURL, "/postgres?", "/"+dbName+"?", 1)
	t.Cleanup(func() { dropDatabase(t, pgURL, dbName) })

	sfuHTTP, cpHTTP, turnAddr, turnHTTP := freeAddr(t, "tcp"), freeAddr(t, "tcp"), freeAddr(t, "udp"), freeAddr(t, "tcp")
	cmd := exec.Command(bin, "dev", "--log-level", "warn")
	cmd.Env = append(os.Environ(),
		"ATRIUM_SFU_HTTP_ADDR="+sfuHTTP,
		"ATRIUM_SFU_RTC_UDP_ADDR="+freeAddr(t, "udp"),
		"ATRIUM_HTTP_ADDR="+cpHTTP,
		"ATRIUM_HTTP_PUBLIC_URL=http://"+cpHTTP,
		"ATRIUM_DATABASE_URL="+dbURL,
		"ATRIUM_REDIS_KEY_PREFIX="+dbName+":",
		"ATRIUM_TURN_LISTEN_UDP="+turnAddr,
		"ATRIUM_TURN_LISTEN_TCP="+strings.Replace(turnAddr, "udp", "tcp", 1),
		"ATRIUM_TURN_HTTP="+turnHTTP,
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("atrium dev did not stop within 20 s of SIGTERM")
		}
	})

	banner := make(chan string, 1)
	go func() {
		var all strings.Builder
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			all.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "  mail (mailpit)") {
				banner <- all.String()
				_, _ = io.Copy(io.Discard, stdout)
				return
			}
		}
		banner <- all.String()
	}()
	var out string
	select {
	case out = <-banner:
	case err := <-done:
		t.Fatalf("atrium dev exited early: %v\n%s", err, stderr.String())
	case <-time.After(90 * time.Second):
		t.Fatalf("atrium dev printed no banner within 90 s\n%s", stderr.String())
	}
	for _, want := range []string{"student@atrium.local is booked into the first class", "teacher@atrium.local", "ws://" + sfuHTTP, "turn:" + turnAddr, "http://" + cpHTTP} {
		if !strings.Contains(out, want) {
			t.Errorf("dev banner lacks %q:\n%s", want, out)
		}
	}

	for _, u := range []string{"http://" + sfuHTTP + "/healthz", "http://" + cpHTTP + "/healthz", "http://" + turnHTTP + "/healthz",
		"http://" + cpHTTP + "/readyz", "http://" + cpHTTP + "/api/openapi.json", "http://" + cpHTTP + "/"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", u, resp.StatusCode)
		}
	}

	// The demo teacher can sign in and get a LiveKit token for the class starting now, and
	// the token is good at the dev SFU.
	body, _ := json.Marshal(map[string]string{"email": "teacher@atrium.local", "password": "atrium-demo-pass-2026"})
	var login struct {
		AccessToken string `json:"access_token"`
	}
	postJSON(t, "http://"+cpHTTP+"/api/v1/auth/login", "", body, &login)
	if login.AccessToken == "" {
		t.Fatal("login returned no access_token")
	}
	var classes struct {
		Items []struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"items"`
	}
	getJSON(t, "http://"+cpHTTP+"/api/v1/classes?q=demo", &classes)
	var live string
	for _, c := range classes.Items {
		if strings.HasPrefix(c.Title, "Live demo") {
			live = c.ID
		}
	}
	if live == "" {
		t.Fatalf("no live demo class in discovery: %+v", classes)
	}
	var join struct {
		URL   string `json:"url"`
		Token string `json:"token"`
	}
	postJSON(t, "http://"+cpHTTP+"/api/v1/classes/"+live+"/join", login.AccessToken, []byte("{}"), &join)
	if join.URL != "ws://"+sfuHTTP || join.Token == "" {
		t.Fatalf("join = %+v, want url ws://%s and a token", join, sfuHTTP)
	}
	// The demo student was funded and booked into that class, so may join it too.
	body, _ = json.Marshal(map[string]string{"email": "student@atrium.local", "password": "atrium-demo-pass-2026"})
	var student struct {
		AccessToken string `json:"access_token"`
	}
	postJSON(t, "http://"+cpHTTP+"/api/v1/auth/login", "", body, &student)
	var studentJoin struct {
		Token string `json:"token"`
	}
	postJSON(t, "http://"+cpHTTP+"/api/v1/classes/"+live+"/join", student.AccessToken, []byte("{}"), &studentJoin)
	if studentJoin.Token == "" {
		t.Fatal("the booked demo student got no join token")
	}

	checkDevRecording(t, "http://"+cpHTTP, login.AccessToken, live)

	resp, err := http.Get("http://" + sfuHTTP + "/rtc/validate?access_token=" + join.Token)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SFU /rtc/validate with the control plane's token = %d, want 200", resp.StatusCode)
	}
}

func postJSON(t *testing.T, url, bearer string, body []byte, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	do(t, req, into)
}

func getJSON(t *testing.T, url string, into any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	do(t, req, into)
}

func do(t *testing.T, req *http.Request, into any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s = %d: %s", req.Method, req.URL, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatalf("%s %s: decode %s: %v", req.Method, req.URL, raw, err)
	}
}

func dropDatabase(t *testing.T, adminURL, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		t.Logf("drop %s: %v", name, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		t.Logf("drop %s: %v", name, err)
	}
}

// checkDevRecording starts a recording of the live demo class (marked "may be recorded") as
// its teacher: the control plane reaches the dev SFU's Egress API, the dev recorder claims the
// job (its egress_started webhook makes the recording active in the control plane), and a stop
// ends it (egress_ended). So recording works in `atrium dev` without any setup.
func checkDevRecording(t *testing.T, cp, token, classID string) {
	t.Helper()
	var rec struct {
		ID    string `json:"id"`
		State string `json:"state"`
	}
	postJSON(t, cp+"/api/v1/classes/"+classID+"/recordings", token, nil, &rec)
	if rec.ID == "" {
		t.Fatal("starting a recording in atrium dev returned no id")
	}
	state := func() string {
		req, _ := http.NewRequest(http.MethodGet, cp+"/api/v1/classes/"+classID+"/recordings", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		var list struct {
			Items []struct{ ID, State string } `json:"items"`
		}
		do(t, req, &list)
		for _, it := range list.Items {
			if it.ID == rec.ID {
				return it.State
			}
		}
		return ""
	}
	for deadline := time.Now().Add(30 * time.Second); state() != "active"; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the dev recorder did not take up the recording within 30 s (state %q)", state())
		}
	}
	postJSON(t, cp+"/api/v1/recordings/"+rec.ID+"/stop", token, nil, &rec)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if s := state(); s == "complete" || s == "failed" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stopped recording did not end within 30 s (state %q)", state())
		}
	}
}
