// Package controlplane is Atrium's control plane: accounts, classes, discovery, join tokens,
// SFU webhooks and background jobs, served over HTTP (see docs/controlplane.md).
//
// It talks to the media plane only through LiveKit tokens and webhooks and never imports a
// media service. Build a Server with New, serve with Run; cmd/atrium wires it.
package controlplane

import (
	"github.com/exaring/otelpgx"
	"github.com/redis/go-redis/extra/redisotel/v9"

	"context"
	"errors"
	"fmt"
	"github.com/atrium-live/atrium/pkg/tracing"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/atrium-live/atrium/controlplane/accounts"
	"github.com/atrium-live/atrium/controlplane/api"
	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/catalog"
	"github.com/atrium-live/atrium/controlplane/classroom"
	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/media"
	"github.com/atrium-live/atrium/controlplane/migrations"
	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/recordings"
	"github.com/atrium-live/atrium/controlplane/roster"
	"github.com/atrium-live/atrium/controlplane/store"
	"github.com/atrium-live/atrium/pkg/opsauth"
)

// Deps are what the caller provides. Only Log is required.
type Deps struct {
	Log *slog.Logger
	// Now is the clock (tests move it); nil means time.Now.
	Now func() time.Time
	// Bookings decides who besides the teacher may join a class; nil refuses every student
	// until the bookings component provides one.
	Bookings media.BookingChecker
	// ClassHooks and EventHooks let bookings/refunds react to cancellations and room events
	// in the same transaction; both may be nil.
	ClassHooks catalog.ClassHooks
	EventHooks media.EventHooks
	// AddWorkers registers extra River workers (reminders, refunds) before the client starts.
	AddWorkers func(w *river.Workers)
	// UI serves the browser app outside /api; nil serves none.
	UI http.Handler
	// Tracing, when not nil, traces HTTP requests and their PostgreSQL and Redis calls
	// (pkg/tracing; off by default).
	Tracing *tracing.Provider
}

// Server is a running control plane's parts. Fields are exported for the wiring code and for
// components built on top (bookings, ledger) that need the same store, jobs and services.
type Server struct {
	Config   Config
	Log      *slog.Logger
	Now      func() time.Time
	Pool     *pgxpool.Pool
	Redis    *redis.Client
	Store    *store.Store
	Jobs     *river.Client[pgx.Tx]
	Outbox   *email.Outbox
	Accounts *accounts.Service
	Catalog  *catalog.Service
	Media    *media.Service
	// Recordings starts, lists, serves and deletes class recordings.
	Recordings *recordings.Service
	// Roster is the teacher's view of a class's people, and class messages.
	Roster *roster.Service
	Money  *Money // ledger, billing, bookings (money.go)
	// Notify fans stored notifications out to open pages on every replica (Redis pub/sub).
	Notify   *notify.Hub
	Registry *prometheus.Registry

	// Classroom keeps the live room's chat, Q&A and polls.
	Classroom *classroom.Service

	handler   http.Handler
	closeOnce sync.Once
}

// New connects to PostgreSQL and Redis, applies migrations if configured, and builds every
// service and the HTTP handler. Call Run to serve, or Close if Run is never called.
func New(ctx context.Context, cfg Config, d Deps) (*Server, error) {
	if d.Log == nil {
		return nil, errors.New("controlplane: Deps.Log is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("controlplane: config: %w", err)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	s := &Server{Config: cfg, Log: d.Log, Now: d.Now}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()

	pcfg, err := pgxpool.ParseConfig(cfg.Database.URL)
	if err != nil {
		return nil, fmt.Errorf("controlplane: database url: %w", err)
	}
	pcfg.MaxConns = cfg.Database.MaxConns
	if d.Tracing != nil {
		// Spans only under a recording parent (a traced request), never for job polling.
		pcfg.ConnConfig.Tracer = otelpgx.NewTracer(otelpgx.WithTracerProvider(d.Tracing))
	}
	if s.Pool, err = pgxpool.NewWithConfig(ctx, pcfg); err != nil {
		return nil, fmt.Errorf("controlplane: connect database: %w", err)
	}
	if err := s.Pool.Ping(ctx); err != nil {
		return nil, fmt.Errorf("controlplane: database unreachable: %w", err)
	}
	if cfg.Database.AutoMigrate {
		n, err := migrations.Up(ctx, s.Pool)
		if err != nil {
			return nil, err
		}
		s.Log.Info("migrations applied", "count", n)
	}
	s.Redis = redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password, DB: cfg.Redis.DB})
	if d.Tracing != nil {
		if err := redisotel.InstrumentTracing(s.Redis, redisotel.WithTracerProvider(d.Tracing)); err != nil {
			return nil, fmt.Errorf("controlplane: redis tracing: %w", err)
		}
	}
	s.Store = store.New(s.Pool)
	s.Notify = notify.NewHub(s.Redis, cfg.Redis.KeyPrefix+"notifications", s.Log.With("component", "notify"))
	s.Store.SetNotificationSink(func(n store.Notification) { s.Notify.Enqueue(api.NotificationEvent(n)) })

	sender, err := email.NewSender(email.SMTPConfig{Addr: cfg.SMTP.Addr, From: cfg.SMTP.From,
		Username: cfg.SMTP.Username, Password: cfg.SMTP.Password})
	if err != nil {
		return nil, err
	}
	renderer, err := email.NewRenderer(cfg.HTTP.PublicURL)
	if err != nil {
		return nil, err
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &email.DeliverWorker{Store: s.Store, Sender: sender, Log: s.Log})
	s.Money = newMoney(cfg, s, workers)
	s.Money.hooks(&d)
	egressURL := cfg.Recording.EgressURL
	switch egressURL {
	case "":
		egressURL = httpOrigin(cfg.LiveKit.URL)
	case "off":
		egressURL = ""
	}
	if s.Recordings, err = recordings.New(recordings.Config{EgressURL: egressURL, APIKey: cfg.LiveKit.APIKey,
		APISecret: cfg.LiveKit.APISecret, S3: cfg.Recording.S3, RetentionDays: cfg.Recording.RetentionDays},
		recordings.Deps{Store: s.Store, Bookings: d.Bookings, Log: s.Log.With("component", "recordings"), Now: s.Now}); err != nil {
		return nil, err
	}
	river.AddWorker(workers, &recordings.SweepWorker{Service: s.Recordings})
	lk := cfg.LiveKit
	s.Media = media.New(media.Config{APIKey: lk.APIKey, APISecret: lk.APISecret, URL: lk.URL, Lifecycle: lifecyclePolicy(cfg),
		TokenTTL: lk.TokenTTL, TURNURLs: cfg.TURN.URLs, TURNSecret: cfg.TURN.Secret, TURNTTL: cfg.TURN.TTL},
		media.Deps{Store: s.Store, Bookings: d.Bookings, Hooks: d.EventHooks, Recordings: s.Recordings, Log: s.Log, Now: s.Now})
	river.AddWorker(workers, &media.CloseRoomsWorker{Service: s.Media})
	if d.AddWorkers != nil {
		d.AddWorkers(workers)
	}
	rcfg := &river.Config{Workers: workers, Logger: s.Log.With("component", "river"),
		FetchPollInterval: cfg.Jobs.PollInterval, FetchCooldown: min(cfg.Jobs.PollInterval, 100*time.Millisecond)}
	rcfg.PeriodicJobs = append(s.Money.periodicJobs(), river.NewPeriodicJob(river.PeriodicInterval(cfg.Recording.SweepInterval),
		func() (river.JobArgs, *river.InsertOpts) { return recordings.SweepArgs{}, nil }, nil))
	if !cfg.Jobs.Disabled {
		rcfg.Queues = map[string]river.QueueConfig{
			river.QueueDefault: {MaxWorkers: cfg.Jobs.Workers},
			email.Queue:        {MaxWorkers: cfg.Jobs.Workers},
		}
	}
	if s.Jobs, err = river.NewClient(riverpgxv5.New(s.Pool), rcfg); err != nil {
		return nil, fmt.Errorf("controlplane: jobs: %w", err)
	}
	s.Outbox = email.NewOutbox(renderer, s.Jobs)
	s.Money.bind(s.Jobs, s.Outbox)
	s.Roster = roster.New(roster.Config{Lifecycle: lifecyclePolicy(cfg), AppURL: cfg.HTTP.PublicURL},
		roster.Deps{Store: s.Store, Mailer: s.Outbox, Log: s.Log.With("component", "roster"), Now: s.Now})

	a := cfg.Auth
	hasher := auth.NewHasher(auth.HasherParams{Time: a.ArgonTime, MemoryKiB: a.ArgonMemoryKiB, Threads: a.ArgonThreads,
		MaxConcurrent: a.MaxConcurrentHashes})
	signer := auth.NewSigner(a.JWTSecret, a.Issuer, a.AccessTTL)
	secrets, err := auth.NewSecretBox(a.TOTPKey)
	if err != nil {
		return nil, err
	}
	s.Accounts = accounts.New(accounts.Config{AppURL: cfg.HTTP.PublicURL, RefreshTTL: a.RefreshTTL, VerifyTTL: a.VerifyTTL,
		ResetTTL: a.ResetTTL, LockoutThreshold: a.LockoutThreshold, LockoutWindow: a.LockoutWindow, TOTPIssuer: "Atrium"},
		accounts.Deps{Store: s.Store, Hasher: hasher, Signer: signer, Secrets: secrets, Outbox: s.Outbox, Log: s.Log, Now: s.Now})
	p := cfg.Pricing
	s.Catalog = catalog.New(catalog.Pricing{
		"basic": {Min: p.Basic.Min, Max: p.Basic.Max}, "premium": {Min: p.Premium.Min, Max: p.Premium.Max},
		"vip": {Min: p.VIP.Min, Max: p.VIP.Max},
	}, catalog.Deps{Store: s.Store, Hooks: d.ClassHooks, Log: s.Log, Now: s.Now})

	s.Classroom = classroom.New(classroom.Deps{Store: s.Store, Bookings: bookingsOrNone(d.Bookings), Relay: s.Media, Windows: s.Media,
		Log: s.Log.With("component", "classroom"), Now: s.Now})

	s.Registry = prometheus.NewRegistry()
	s.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.Money.register(s.Registry)
	s.Registry.MustRegister(newOpsCollector(s.Pool, s.Log, s.Now))
	spec, err := api.LoadSpec(ctx)
	if err != nil {
		return nil, err
	}
	h := &api.Handler{
		Accounts: s.Accounts, Catalog: s.Catalog, Media: s.Media, Recordings: s.Recordings, Classroom: s.Classroom, Roster: s.Roster, Money: s.Money.api(), Store: s.Store, Signer: signer, Spec: spec,
		Metrics: api.NewMetrics(s.Registry), Log: s.Log, Now: s.Now, Ready: s.ready,
		MetricsHandler: opsauth.Guard(cfg.HTTP.MetricsToken, promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{})), UI: d.UI,
		CORSOrigins: cfg.HTTP.CORSOrigins, MaxBodyBytes: cfg.HTTP.MaxBodyBytes,
		MaxJSONDepth:      cfg.HTTP.MaxJSONDepth,
		TrustForwardedFor: cfg.HTTP.TrustForwardedFor, HSTS: hasHTTPS(cfg.HTTP.PublicURL) || cfg.HTTP.TLSCertFile != "" || len(cfg.HTTP.ACME.Domains) > 0,
		MediaOrigin: httpOrigin(cfg.LiveKit.URL),
		PublicURL:   cfg.HTTP.PublicURL, Notify: s.Notify,
		SecureCookies: hasHTTPS(cfg.HTTP.PublicURL) || cfg.HTTP.TLSCertFile != "" || len(cfg.HTTP.ACME.Domains) > 0,
	}
	if cfg.RateLimit.Enabled {
		r := cfg.RateLimit
		h.Rate = api.RateLimits{Limiter: redis_rate.NewLimiter(s.Redis), Prefix: cfg.Redis.KeyPrefix,
			IPPerMinute: r.IPPerMinute, UserPerMinute: r.UserPerMinute, AuthPerMinute: r.AuthPerMinute,
			ForgotPerHour: r.ForgotPerHour, BadSignaturePerMinute: r.BadSignaturePerMinute}
	}
	if h.TrustedProxies, err = api.ParseProxies(cfg.HTTP.TrustedProxies); err != nil {
		return nil, fmt.Errorf("controlplane: http.trusted_proxies: %w", err)
	}
	if s.handler, err = api.Routes(h); err != nil {
		return nil, err
	}
	s.handler = tracing.HTTPHandler(s.handler, d.Tracing, "controlplane")
	ok = true
	return s, nil
}

func hasHTTPS(u string) bool { return len(u) > 8 && u[:8] == "https://" }

func (s *Server) ready(ctx context.Context) error {
	if err := s.Pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	if err := s.Redis.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	return nil
}

// OpsHandler serves /metrics and pprof without authentication, for an internal listener
// (Config.HTTP.MetricsAddr) that only operators reach.
func (s *Server) OpsHandler() http.Handler {
	return opsauth.Mux(promhttp.HandlerFor(s.Registry, promhttp.HandlerOpts{}))
}

// Handler is the HTTP API (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// Run serves HTTP on ln and runs background jobs until ctx is cancelled, then shuts down
// gracefully (in-flight requests get Config.HTTP.ShutdownTimeout) and closes the server.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	defer s.Close()
	if !s.Config.Jobs.Disabled {
		if err := s.Jobs.Start(ctx); err != nil {
			return fmt.Errorf("controlplane: start jobs: %w", err)
		}
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: s.Config.HTTP.ReadTimeout,
		WriteTimeout: s.Config.HTTP.WriteTimeout, IdleTimeout: 2 * time.Minute,
		ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn)}
	hubCtx, stopHub := context.WithCancel(context.Background())
	hubDone := make(chan struct{})
	go func() {
		defer close(hubDone)
		s.Notify.Run(hubCtx)
	}()
	defer func() {
		stopHub()
		<-hubDone
	}()
	srv.RegisterOnShutdown(s.Notify.Shutdown) // notification streams end, so Shutdown need not wait for them
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.Log.Info("control plane listening", "addr", ln.Addr().String())
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), s.Config.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		s.Log.Warn("http shutdown", "err", err)
	}
	if !s.Config.Jobs.Disabled {
		if err := s.Jobs.Stop(shutdownCtx); err != nil {
			s.Log.Warn("jobs shutdown", "err", err)
		}
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("controlplane: serve: %w", serveErr)
	}
	return nil
}

// Close releases connections; Run calls it on return. Safe to call more than once.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.Redis != nil {
			_ = s.Redis.Close()
		}
		if s.Pool != nil {
			s.Pool.Close()
		}
	})
}

// httpOrigin turns the SFU's ws(s):// URL into the http(s) origin browsers fetch from it.
// Config validation guarantees a ws:// or wss:// URL; anything else yields "".
func httpOrigin(wsURL string) string {
	u, err := url.Parse(wsURL)
	if err != nil || u.Host == "" {
		return ""
	}
	switch u.Scheme {
	case "ws":
		return "http://" + u.Host
	case "wss":
		return "https://" + u.Host
	}
	return ""
}

// bookingsOrNone is b, or media.NoBookings (nobody is booked) when b is nil.
func bookingsOrNone(b media.BookingChecker) media.BookingChecker {
	if b == nil {
		return media.NoBookings{}
	}
	return b
}
