package tracing

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestLogHandlerWritesTraceIDs(t *testing.T) {
	tp := NewProvider(sdktrace.NewSimpleSpanProcessor(tracetest.NewInMemoryExporter()), "test", "v", 1)
	defer tp.Shutdown(context.Background())
	var buf bytes.Buffer
	log := slog.New(LogHandler(slog.NewJSONHandler(&buf, nil))).With("role", "x")
	ctx, span := tp.Tracer("t").Start(context.Background(), "op")
	log.InfoContext(ctx, "inside")
	span.End()
	log.Info("outside")
	var in, out map[string]any
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 2 || json.Unmarshal(lines[0], &in) != nil || json.Unmarshal(lines[1], &out) != nil {
		t.Fatalf("log output:\n%s", buf.String())
	}
	if in["trace_id"] != span.SpanContext().TraceID().String() || in["span_id"] != span.SpanContext().SpanID().String() || in["role"] != "x" {
		t.Errorf("line in a span = %v, want trace_id %s and span_id %s", in, span.SpanContext().TraceID(), span.SpanContext().SpanID())
	}
	if _, ok := out["trace_id"]; ok {
		t.Errorf("line outside a span has a trace_id: %v", out)
	}
}

// HTTPHandler continues a caller's W3C trace and names the span by route pattern, not path.
func TestHTTPHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	if got := HTTPHandler(h, nil, "x"); got == nil {
		t.Fatal("HTTPHandler(nil provider) = nil")
	}
	exp := tracetest.NewInMemoryExporter()
	tp := NewProvider(sdktrace.NewSimpleSpanProcessor(exp), "test", "v", 1)
	defer tp.Shutdown(context.Background())
	mux := http.NewServeMux()
	mux.Handle("GET /rooms/{id}", h)
	req := httptest.NewRequest("GET", "/rooms/secret-room-id", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	HTTPHandler(mux, tp, "x").ServeHTTP(httptest.NewRecorder(), req)
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	if spans[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("span trace id %s, want the caller's", spans[0].SpanContext.TraceID())
	}
	if spans[0].Name != "GET /rooms/{id}" {
		t.Errorf("span name %q, want the route pattern (never the raw path with its ids)", spans[0].Name)
	}
}
