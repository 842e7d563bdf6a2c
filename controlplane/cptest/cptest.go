// Package cptest runs a real control plane for tests: a fresh PostgreSQL database per test
// package, an isolated Redis key prefix per server, mail to the shared mailpit, and HTTP
// client helpers. Packages built on the control plane (bookings, ledger) reuse it:
//
//	func TestMain(m *testing.M) { os.Exit(cptest.Main(m)) }
//
//	func TestX(t *testing.T) {
//		env := cptest.Serve(t)
//		teacher := env.NewUser(t, "teacher")
//		res := env.Do(t, "GET", "/api/v1/me", teacher.Token, nil)
//		res.Want(t, 200)
//	}
//
// Services must be running (./scripts/services.sh up); a missing one fails the test run with
// a message saying so, never skips.
package cptest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/migrations"
)

// Service addresses, overridable by environment for unusual machines.
var (
	adminDatabaseURL = envOr("ATRIUM_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable")
	redisAddr        = envOr("ATRIUM_TEST_REDIS_ADDR", "127.0.0.1:6379")
	smtpAddr         = envOr("ATRIUM_TEST_SMTP_ADDR", "127.0.0.1:1025")
	// MailpitURL is mailpit's REST API.
	MailpitURL = envOr("ATRIUM_TEST_MAILPIT_URL", "http://127.0.0.1:8025")
)

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// pkgDB is the database Main created for this test binary.
var pkgDB struct {
	sync.Mutex
	url string
}

// Main creates a fresh database (atrium_test_<random>) with every migration applied, runs the
// package's tests, drops the database and returns the exit code. Call it from TestMain.
func Main(m *testing.M) int {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	dbURL, drop, err := createDatabase(ctx)
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cptest: %v\n(start the services with ./scripts/services.sh up, or set ATRIUM_TEST_DATABASE_URL)\n", err)
		return 1
	}
	defer drop()
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	err = rdb.Ping(context.Background()).Err()
	rdb.Close()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cptest: redis at %s unreachable: %v\n(start the services with ./scripts/services.sh up)\n", redisAddr, err)
		return 1
	}
	pkgDB.Lock()
	pkgDB.url = dbURL
	pkgDB.Unlock()
	return m.Run()
}

// DatabaseURL is the URL of the package's test database (Main must have run).
func DatabaseURL(t testing.TB) string {
	pkgDB.Lock()
	defer pkgDB.Unlock()
	if pkgDB.url == "" {
		t.Fatal("cptest: no test database; call os.Exit(cptest.Main(m)) from TestMain")
	}
	return pkgDB.url
}

func createDatabase(ctx context.Context) (string, func(), error) {
	admin, err := pgx.Connect(ctx, adminDatabaseURL)
	if err != nil {
		return "", nil, fmt.Errorf("postgres at %s unreachable: %w", redact(adminDatabaseURL), err)
	}
	name := "atrium_test_" + RandomHex(6)
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close(ctx)
		return "", nil, fmt.Errorf("create database %s: %w", name, err)
	}
	u, _ := url.Parse(adminDatabaseURL)
	u.Path = "/" + name
	dbURL := u.String()
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			fmt.Fprintf(os.Stderr, "cptest: drop database %s: %v\n", name, err)
		}
		admin.Close(ctx)
	}
	pool, err := pgxpool.New(ctx, dbURL)
	if err != nil {
		drop()
		return "", nil, fmt.Errorf("connect %s: %w", name, err)
	}
	defer pool.Close()
	if _, err := migrations.Up(ctx, pool); err != nil {
		drop()
		return "", nil, err
	}
	return dbURL, drop, nil
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "<database url>"
	}
	return p.Redacted()
}

// RandomHex returns 2n random hex characters.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Clock is a controllable clock: real time plus an offset that tests move forward.
type Clock struct {
	mu     sync.Mutex
	offset time.Duration
}

// Now returns the shifted time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.offset += d
	c.mu.Unlock()
}

// Options customise Serve.
type Options struct {
	// Config edits the test config before the server is built.
	Config func(*controlplane.Config)
	// Deps edits the dependencies (hooks, booking checker, extra workers).
	Deps func(*controlplane.Deps)
}

// Env is a running control plane.
type Env struct {
	URL    string // base URL, e.g. http://127.0.0.1:41234
	Server *controlplane.Server
	Clock  *Clock
	Config controlplane.Config
}

// MetricsToken is the operator token TestConfig sets for /metrics (see Env.Scrape).
const MetricsToken = "cptest-metrics-token"

// Scrape returns the server's /metrics, fetched with the operator token.
func (e *Env) Scrape(t testing.TB) string {
	t.Helper()
	res := e.DoRequest(t, Request{Method: "GET", Path: "/metrics", Headers: map[string]string{"Authorization": "Bearer " + MetricsToken}})
	return string(res.Want(t, 200).Body)
}

// TestConfig is the config Serve uses: the package database, a unique Redis prefix, cheap
// password hashing, generous rate limits, fast job polling, loopback everything.
func TestConfig(t testing.TB) controlplane.Config {
	cfg := controlplane.DefaultConfig()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Database.URL = DatabaseURL(t)
	cfg.Database.MaxConns = 10
	cfg.Redis.Addr = redisAddr
	cfg.Redis.KeyPrefix = "atrium:test:" + RandomHex(6) + ":"
	cfg.SMTP.Addr = smtpAddr
	cfg.Auth.ArgonTime, cfg.Auth.ArgonMemoryKiB, cfg.Auth.MaxConcurrentHashes = 1, 4096, 8
	cfg.RateLimit = controlplane.RateLimitConfig{Enabled: true, IPPerMinute: 100000, UserPerMinute: 100000,
		AuthPerMinute: 100000, ForgotPerHour: 1000}
	cfg.Jobs.PollInterval = 50 * time.Millisecond
	cfg.LogLevel = "warn"
	cfg.HTTP.MetricsToken = MetricsToken
	return cfg
}

// Serve starts a control plane on 127.0.0.1:0 and stops it when the test ends.
func Serve(t testing.TB, opts ...Options) *Env {
	t.Helper()
	cfg := TestConfig(t)
	clock := &Clock{}
	deps := controlplane.Deps{Log: testLogger(t), Now: clock.Now}
	for _, o := range opts {
		if o.Config != nil {
			o.Config(&cfg)
		}
		if o.Deps != nil {
			o.Deps(&deps)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := controlplane.New(ctx, cfg, deps)
	if err != nil {
		cancel()
		t.Fatalf("cptest: controlplane.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		srv.Close()
		t.Fatalf("cptest: listen: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("cptest: Run: %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Errorf("cptest: server did not stop within 20s")
		}
	})
	return &Env{URL: "http://" + ln.Addr().String(), Server: srv, Clock: clock, Config: cfg}
}

// testLogger writes warnings and errors to the test log (keeping passing runs quiet), or
// everything when ATRIUM_TEST_LOG=debug.
func testLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("ATRIUM_TEST_LOG") == "debug" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewJSONHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = tWriter{}
