package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/reqid"
)

var goodRequestID = regexp.MustCompile(`^[A-Za-z0-9._-]{8,64}$`)

// requestID takes a well-formed X-Request-ID from the caller (a proxy's) or makes one, puts
// it in the context and echoes it in the response.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get("X-Request-ID")
		if !goodRequestID.MatchString(id) {
			b := make([]byte, 12)
			_, _ = rand.Read(b)
			id = hex.EncodeToString(b)
		}
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(reqid.With(r.Context(), id)))
	})
}

// Metrics are the API's Prometheus collectors, registered on a registry the server owns.
type Metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics registers the API collectors on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "atrium", Subsystem: "controlplane",
			Name: "http_requests_total", Help: "API requests by route template, method and status."},
			[]string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "atrium", Subsystem: "controlplane",
			Name: "http_request_duration_seconds", Help: "API latency by route template.",
			Buckets: []float64{.002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// observe logs one line per request (no query strings, bodies, IPs or tokens: they may hold
// personal data or secrets), records metrics, and turns a panic into a 500.
func observe(log *slog.Logger, m *Metrics) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			sw := &statusWriter{ResponseWriter: w}
			holder := &routeHolder{name: "unmatched"}
			r = r.WithContext(context.WithValue(r.Context(), routeKey{}, holder))
			defer func() {
				if v := recover(); v != nil {
					if v == http.ErrAbortHandler {
						panic(v)
					}
					log.Error("panic", "request_id", reqid.From(r.Context()), "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
					if sw.status == 0 {
						writeError(sw, r, log, problem.New(http.StatusInternalServerError, problem.CodeInternal, "internal error"))
					}
				}
				route, method := routeName(r), methodLabel(r.Method)
				d := time.Since(start)
				m.requests.WithLabelValues(route, method, strconv.Itoa(sw.status)).Inc()
				m.latency.WithLabelValues(route, method).Observe(d.Seconds())
				level := slog.LevelInfo
				if sw.status >= 500 {
					level = slog.LevelError
				}
				log.LogAttrs(r.Context(), level, "http", slog.String("request_id", reqid.From(r.Context())),
					slog.String("method", method), slog.String("route", route), slog.Int("status", sw.status),
					slog.Duration("duration", d))
			}()
			next.ServeHTTP(sw, r)
		})
	}
}

// methodLabel maps a request method onto a closed set, so that clients cannot mint label
// values (issue 17, finding 3: 120,000 random methods grew /metrics to 203 MB). Route labels
// are already closed: a route template, "/" for the UI, or "unmatched".
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}
