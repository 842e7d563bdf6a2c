// Package tracing sets up OpenTelemetry tracing for a role: an OTLP/HTTP exporter when an
// endpoint is configured (off otherwise), HTTP server instrumentation that is a no-op when
// tracing is off, and a slog handler that writes the current trace and span ids into every
// log line logged with a context, so a log line leads to its trace.
//
// No global state: the provider is passed to whoever instruments (otelhttp, otelpgx,
// redisotel), never installed with otel.SetTracerProvider.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	sdkresource "go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Config selects the exporter. Environment names follow the yaml tags under the role's prefix
// (e.g. ATRIUM_TRACING_OTLP_ENDPOINT).
type Config struct {
	// OTLPEndpoint is the collector's OTLP/HTTP address, "host:port" (https) or a URL
	// ("http://otel-collector:4318"); "" turns tracing off.
	OTLPEndpoint string `yaml:"otlp_endpoint"`
	// SampleRatio is the fraction of new traces recorded, in (0, 1]; 0 means 1. Requests that
	// arrive with a sampled parent are always recorded.
	SampleRatio float64 `yaml:"sample_ratio"`
}

// Validate checks the ratio.
func (c Config) Validate() error {
	if c.SampleRatio < 0 || c.SampleRatio > 1 {
		return fmt.Errorf("tracing.sample_ratio %v must be within [0, 1]", c.SampleRatio)
	}
	return nil
}

// Provider is an SDK tracer provider; nil means tracing is off.
type Provider = sdktrace.TracerProvider

// New builds the provider for role exporting to c.OTLPEndpoint, or nil when it is empty.
// Shut it down (Provider.Shutdown) before the process exits so buffered spans are sent.
func New(ctx context.Context, c Config, role, version string) (*Provider, error) {
	if c.OTLPEndpoint == "" {
		return nil, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	var opt otlptracehttp.Option
	if strings.Contains(c.OTLPEndpoint, "://") {
		opt = otlptracehttp.WithEndpointURL(c.OTLPEndpoint)
	} else {
		opt = otlptracehttp.WithEndpoint(c.OTLPEndpoint)
	}
	exp, err := otlptracehttp.New(ctx, opt)
	if err != nil {
		return nil, fmt.Errorf("tracing: otlp exporter: %w", err)
	}
	return NewProvider(sdktrace.NewBatchSpanProcessor(exp), role, version, c.SampleRatio), nil
}

// NewProvider builds a provider sending spans to sp (tests pass a tracetest exporter through
// sdktrace.NewSimpleSpanProcessor).
func NewProvider(sp sdktrace.SpanProcessor, role, version string, ratio float64) *Provider {
	if ratio == 0 {
		ratio = 1
	}
	res := sdkresource.NewSchemaless(
		attribute.String("service.name", "atrium-"+role),
		attribute.String("service.version", version),
	)
	return sdktrace.NewTracerProvider(
		sdktrace.WithSpanProcessor(sp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
	)
}

// propagator reads and writes W3C traceparent/tracestate and baggage headers.
var propagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// HTTPHandler wraps h in a server span per request, named after the matched route pattern
// when the router sets one; with a nil provider it returns h.
func HTTPHandler(h http.Handler, tp *Provider, service string) http.Handler {
	if tp == nil {
		return h
	}
	return otelhttp.NewHandler(h, service,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			// Never the raw path: it holds ids and tokens.
			if r.Pattern != "" {
				return r.Pattern
			}
			return r.Method
		}),
	)
}

// TracerProvider returns tp as the API interface, or a no-op provider when tp is nil, for
// instrumentations that need one.
func TracerProvider(tp *Provider) trace.TracerProvider {
	if tp == nil {
		return noop.NewTracerProvider()
	}
	return tp
}

// LogHandler adds trace_id and span_id to records logged with a context that carries a
// recording span.
func LogHandler(next slog.Handler) slog.Handler { return &logHandler{next: next} }

type logHandler struct{ next slog.Handler }

func (h *logHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h *logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r = r.Clone()
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
	}
	return h.next.Handle(ctx, r)
}

func (h *logHandler) WithAttrs(a []slog.Attr) slog.Handler {
	return &logHandler{next: h.next.WithAttrs(a)}
}

func (h *logHandler) WithGroup(name string) slog.Handler {
	return &logHandler{next: h.next.WithGroup(name)}
}
