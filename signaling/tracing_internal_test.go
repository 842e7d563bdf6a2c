package signaling

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/atrium-live/atrium/pkg/tracing"
)

// With Deps.Tracing the gateway's HTTP handler records a server span per request, continuing
// the caller's W3C trace.
func TestGatewayTracesHTTP(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := tracing.NewProvider(sdktrace.NewSimpleSpanProcessor(exp), "signal", "test", 1)
	defer tp.Shutdown(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DevConfig()
	cfg.NodeID = "gw-trace-test"
	cfg.Cluster.BindAddr = "127.0.0.1:0"
	g, err := New(cfg, Deps{HTTPListener: ln, Tracing: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	defer g.closeLs()
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	rec := httptest.NewRecorder()
	g.srv.Handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /healthz = %d", rec.Code)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].SpanKind != trace.SpanKindServer || spans[0].SpanContext.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Fatalf("spans = %+v, want one server span in the caller's trace", spans)
	}
}
