package controlplane_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/pkg/tracing"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A traced login request yields one trace: the HTTP server span, with PostgreSQL (otelpgx)
// and Redis (redisotel, the rate limiter) spans under it, recorded by the in-memory exporter;
// and the request's log line carries that trace id.
func TestTracingCoversHTTPPostgresRedisAndLogs(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewProvider(sdktrace.NewSimpleSpanProcessor(exp), "controlplane", "test", 1)
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	var logs lockedBuffer
	env := cptest.Serve(t, cptest.Options{Deps: func(d *controlplane.Deps) {
		d.Tracing = tp
		d.Log = slog.New(tracing.LogHandler(slog.NewJSONHandler(&logs, nil)))
	}})
	login(t, env, cptest.UniqueEmail("nobody"), "not-the-password-42", "").Want(t, http.StatusUnauthorized)

	var server tracetest.SpanStub
	deadline := time.Now().Add(10 * time.Second)
	for server.Name == "" {
		for _, s := range exp.GetSpans() {
			if s.SpanKind == trace.SpanKindServer {
				server = s
			}
		}
		if server.Name == "" {
			if time.Now().After(deadline) {
				t.Fatalf("no server span within 10 s; spans: %v", names(exp.GetSpans()))
			}
			time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
		}
	}
	tid := server.SpanContext.TraceID()
	var pg, rd int
	for _, s := range exp.GetSpans() {
		if s.SpanContext.TraceID() != tid {
			continue
		}
		for _, a := range s.Attributes {
			switch {
			case a.Key == "db.system" && a.Value.AsString() == "postgresql",
				a.Key == "db.system.name" && a.Value.AsString() == "postgresql":
				pg++
			case a.Key == "db.system" && a.Value.AsString() == "redis",
				a.Key == "db.system.name" && a.Value.AsString() == "redis":
				rd++
			}
		}
	}
	if pg == 0 || rd == 0 {
		t.Fatalf("trace %s has %d PostgreSQL and %d Redis spans, want both > 0; spans: %v", tid, pg, rd, names(exp.GetSpans()))
	}

	var found bool
	for _, line := range strings.Split(logs.String(), "\n") {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "http" {
			continue
		}
		if rec["trace_id"] != tid.String() {
			t.Errorf("request log line trace_id = %v, want %s: %s", rec["trace_id"], tid, line)
		}
		found = true
	}
	if !found {
		t.Fatalf("no request log line:\n%s", logs.String())
	}
}

func names(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}
