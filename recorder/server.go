// Package recorder is the `atrium recorder` role: it records rooms to HLS (fMP4 segments,
// H.264 copied, Opus to AAC through ffmpeg fed RTP over loopback) and uploads segments and
// playlists to S3-compatible storage as they complete. It joins rooms as a hidden participant
// through server-sdk-go, like any client: it imports no sfu package.
package recorder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atrium-live/atrium/pkg/egress"
)

// Deps are the recorder's collaborators.
type Deps struct {
	Logger *slog.Logger
	// Registry receives the metrics; nil makes a private one.
	Registry *prometheus.Registry
}

// Server is one recorder process. Safe for concurrent use.
type Server struct {
	cfg   Config
	log   *slog.Logger
	reg   *prometheus.Registry
	m     *metrics
	store *Store
	retry RetryPolicy
	ready atomic.Bool
	ln    net.Listener
	id    string // lease holder name
	hooks *egress.Notifier
}

// New validates cfg and builds a recorder; it contacts nothing until Run or Record.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	st, err := NewStore(cfg.S3)
	if err != nil {
		return nil, fmt.Errorf("recorder: %w", err)
	}
	s := &Server{cfg: cfg, log: deps.Logger, reg: deps.Registry, store: st,
		retry: RetryPolicy{Min: cfg.UploadRetryMin, Max: cfg.UploadRetryMax}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.id = cfg.ID
	if s.id == "" {
		host, _ := os.Hostname()
		s.id = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomSuffix())
	}
	if s.reg == nil {
		s.reg = prometheus.NewRegistry()
	}
	s.m = newMetrics(s.reg)
	s.hooks = &egress.Notifier{URLs: cfg.Webhook.URLs, APIKey: cfg.LiveKit.APIKey, APISecret: cfg.LiveKit.APISecret,
		Logger: s.log, Retries: 3}
	if cfg.HTTP != "" {
		ln, err := net.Listen("tcp", cfg.HTTP)
		if err != nil {
			return nil, fmt.Errorf("recorder: listen %s: %w", cfg.HTTP, err)
		}
		s.ln = ln
	}
	return s, nil
}

// ID is the name this recorder holds leases under.
func (s *Server) ID() string { return s.id }

func randomSuffix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Store is the object store recordings go to.
func (s *Server) Store() *Store { return s.store }

// Registry holds the recorder's metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// HTTPAddr is the address /healthz, /readyz and /metrics are served on (nil when disabled).
func (s *Server) HTTPAddr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Handler serves /healthz (200 while the process runs), /readyz (200 once the bucket is
// reachable and until shutdown) and /metrics.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !s.ready.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return mux
}

// Run serves HTTP and, when a job store is configured, claims and records jobs until ctx
// ends (jobs nil: HTTP only, recordings are started in-process with Record). Recordings in
// progress are abandoned on shutdown without releasing their leases: another recorder
// takes each over once its lease expires.
func (s *Server) Run(ctx context.Context, jobs *egress.Store) error {
	var srv *http.Server
	if s.ln != nil {
		srv = &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go func() {
			if err := srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("recorder http", "err", err)
			}
		}()
		defer srv.Close()
	}
	for {
		bctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := s.store.EnsureBucket(bctx)
		cancel()
		if err == nil {
			break
		}
		s.log.Warn("object store not reachable yet", "err", err)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(2 * time.Second):
		}
	}
	s.ready.Store(true)
	defer s.ready.Store(false)
	if jobs == nil {
		<-ctx.Done()
		return nil
	}
	return s.runJobs(ctx, jobs)
}

// Result is what Record reports.
type Result struct {
	Segments []Segment
	// Finished is true when the VOD playlist (EXT-X-ENDLIST) is stored.
	Finished bool
}

// Duration sums the segments' durations.
func (r Result) Duration() time.Duration {
	var d float64
	for _, s := range r.Segments {
		d += s.Duration
	}
	return time.Duration(d * float64(time.Second))
}

// Record records job in-process until stop is closed (then it finishes the VOD playlist)
// or ctx ends (then it abandons the recording as a crash would). prior continues an earlier
// recording of the same job after a discontinuity; onSegment, if not nil, is told of each
// stored segment.
func (s *Server) Record(ctx context.Context, job Job, prior []Segment, stop <-chan struct{},
	onSegment func(Segment)) (Result, error) {
	if job.ID == "" || job.Room == "" {
		return Result{}, errors.New("recorder: job needs an id and a room")
	}
	s.m.active.Inc()
	defer s.m.active.Dec()
	r, err := s.runEpoch(ctx, epoch{job: job, prior: prior, stop: stop, onSegment: onSegment})
	return Result{Segments: r.segments, Finished: r.finished}, err
}
