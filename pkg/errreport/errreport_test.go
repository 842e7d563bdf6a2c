package errreport

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSentry is a fake of a Sentry ingestion endpoint (the real service cannot run here): it
// accepts envelopes on /api/<project>/envelope/, decodes them and keeps the event items and
// the raw bodies.
type fakeSentry struct {
	*httptest.Server
	mu     sync.Mutex
	events []map[string]any
	raw    []string
	got    chan struct{}
}

func serveFakeSentry(t *testing.T) *fakeSentry {
	f := &fakeSentry{got: make(chan struct{}, 100)}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/api/42/envelope/" {
			t.Errorf("fake sentry: %s %s, want POST /api/42/envelope/", r.Method, r.URL.Path)
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if !strings.Contains(r.Header.Get("X-Sentry-Auth"), "sentry_key=public") {
			t.Errorf("fake sentry: X-Sentry-Auth %q lacks the DSN's key", r.Header.Get("X-Sentry-Auth"))
		}
		var body io.Reader = r.Body
		if r.Header.Get("Content-Encoding") == "gzip" {
			zr, err := gzip.NewReader(r.Body)
			if err != nil {
				t.Errorf("fake sentry: gzip: %v", err)
				return
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		// Envelope: a header line, then per item a header line and a payload line.
		sc := bufio.NewScanner(bytes.NewReader(b))
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		sc.Scan() // envelope header
		for sc.Scan() {
			var item struct {
				Type string `json:"type"`
			}
			if err := json.Unmarshal(sc.Bytes(), &item); err != nil {
				t.Errorf("fake sentry: item header %q: %v", sc.Text(), err)
				return
			}
			if !sc.Scan() {
				t.Errorf("fake sentry: item %s without payload", item.Type)
				return
			}
			if item.Type != "event" {
				continue
			}
			var ev map[string]any
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Errorf("fake sentry: event payload: %v", err)
				return
			}
			f.mu.Lock()
			f.events = append(f.events, ev)
			f.raw = append(f.raw, string(b))
			f.mu.Unlock()
			f.got <- struct{}{}
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeSentry) dsn() string {
	return strings.Replace(f.URL, "http://", "http://public@", 1) + "/42"
}

func (f *fakeSentry) wait(t *testing.T, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		select {
		case <-f.got:
		case <-time.After(10 * time.Second):
			t.Fatalf("fake sentry received %d event(s) within 10 s, want %d", i, n)
		}
	}
}

// Error logs reach the service as events with their message, error and attributes, tagged
// with the role; lower levels do not; and nothing personal or secret gets through.
func TestErrorLogsReachSentryWithoutPersonalData(t *testing.T) {
	f := serveFakeSentry(t)
	rep, err := New(Config{DSN: f.dsn(), Environment: "test"}, "controlplane", "v1.2.3")
	if err != nil {
		t.Fatal(err)
	}
	var logged bytes.Buffer
	log := slog.New(Handler(slog.NewJSONHandler(&logged, nil), rep)).With("room", "math-101")
	log.Info("an ordinary request", "email", "info@example.com")
	log.Warn("a warning")
	log.Error("payment failed for bob@example.com from 203.0.113.9",
		"err", errors.New("stripe: card declined for customer bob@example.com (token=tok_abcdef123)"),
		"email", "bob@example.com", "remote_addr", "203.0.113.9:51234", "status", 402,
		"detail", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJib2IifQ.c2lnbmF0dXJlc2lnbmF0dXJlc2ln",
		slog.Group("http", "route", "POST /api/bookings", "ip", "2001:db8::7"))
	f.wait(t, 1)
	if !rep.Flush(5 * time.Second) {
		t.Fatal("Flush timed out")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.events) != 1 {
		t.Fatalf("fake sentry got %d events, want 1 (info and warn are not reported)", len(f.events))
	}
	ev := f.events[0]
	if msg, _ := ev["message"].(string); msg != "payment failed for [email] from [ip]" {
		t.Errorf("event message = %q, want the scrubbed log message", msg)
	}
	if ev["level"] != "error" || ev["release"] != "v1.2.3" || ev["environment"] != "test" {
		t.Errorf("event level/release/environment = %v/%v/%v", ev["level"], ev["release"], ev["environment"])
	}
	if tags, _ := ev["tags"].(map[string]any); tags["role"] != "controlplane" {
		t.Errorf("event tags = %v, want role=controlplane", ev["tags"])
	}
	exc, _ := json.Marshal(ev["exception"])
	if !strings.Contains(string(exc), "card declined for customer [email] (token=[redacted])") {
		t.Errorf("event exception = %s, want the scrubbed error", exc)
	}
	logCtx, _ := ev["contexts"].(map[string]any)["log"].(map[string]any)
	if logCtx["room"] != "math-101" || logCtx["status"] != "402" || logCtx["http.route"] != "POST /api/bookings" {
		t.Errorf("event log context = %v, want room, status and http.route kept", logCtx)
	}
	for _, k := range []string{"email", "remote_addr", "http.ip"} {
		if _, ok := logCtx[k]; ok {
			t.Errorf("event log context keeps %q", k)
		}
	}
	for _, leak := range []string{"bob@example.com", "info@example.com", "203.0.113.9", "2001:db8::7", "tok_abcdef123", "eyJhbGciOiJIUzI1NiJ9"} {
		if strings.Contains(f.raw[0], leak) {
			t.Errorf("the envelope sent to the service contains %q", leak)
		}
	}
	// The local log line is untouched (it goes to the operator's own log store).
	if !strings.Contains(logged.String(), "bob@example.com") || !strings.Contains(logged.String(), "an ordinary request") {
		t.Errorf("local log lost records or attributes:\n%s", logged.String())
	}
}

func TestOffWithoutDSN(t *testing.T) {
	rep, err := New(Config{}, "sfu", "dev")
	if err != nil || rep != nil {
		t.Fatalf("New without DSN = %v, %v; want nil, nil", rep, err)
	}
	h := slog.NewJSONHandler(io.Discard, nil)
	if Handler(h, rep) != slog.Handler(h) {
		t.Error("Handler with a nil Reporter wraps the handler; want it unchanged")
	}
	if !rep.Flush(time.Millisecond) {
		t.Error("nil Reporter Flush = false")
	}
	if _, err := New(Config{DSN: "http://k@127.0.0.1:1/1", SampleRate: 2}, "sfu", "dev"); err == nil {
		t.Error("New with sample_rate 2 = nil error")
	}
}
