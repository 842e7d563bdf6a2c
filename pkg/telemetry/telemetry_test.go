package telemetry

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestSetupOffByDefault(t *testing.T) {
	base := slog.New(slog.NewJSONHandler(io.Discard, nil))
	log, tp, flush, err := Setup(context.Background(), "sfu", base, lookup(nil))
	if err != nil || tp != nil || log == nil {
		t.Fatalf("Setup without settings = %v, %v, %v; want a logger, no tracing, no error", log, tp, err)
	}
	flush()
	if _, _, _, err := Setup(context.Background(), "sfu", base, lookup(map[string]string{"ATRIUM_SENTRY_SAMPLE_RATE": "2"})); err == nil {
		t.Error("Setup with ATRIUM_SENTRY_SAMPLE_RATE=2 = nil error")
	}
}

// With ATRIUM_SENTRY_DSN set, an error logged through the returned logger reaches the
// (fake) Sentry endpoint by the time flush returns; with ATRIUM_TRACING_OTLP_ENDPOINT set,
// tracing is on.
func TestSetupFromEnvironment(t *testing.T) {
	var posts atomic.Int32
	fake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/envelope/") {
			posts.Add(1)
		}
	}))
	defer fake.Close()
	otlp := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer otlp.Close()
	env := map[string]string{
		"ATRIUM_SENTRY_DSN":            strings.Replace(fake.URL, "http://", "http://k@", 1) + "/7",
		"ATRIUM_TRACING_OTLP_ENDPOINT": otlp.URL,
	}
	log, tp, flush, err := Setup(context.Background(), "controlplane", slog.New(slog.NewJSONHandler(io.Discard, nil)), lookup(env))
	if err != nil {
		t.Fatal(err)
	}
	if tp == nil {
		t.Fatal("tracing off with ATRIUM_TRACING_OTLP_ENDPOINT set")
	}
	log.Error("boom")
	flush()
	if posts.Load() == 0 {
		t.Fatal("no envelope reached the fake Sentry endpoint")
	}
}
