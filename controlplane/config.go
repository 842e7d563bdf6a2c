package controlplane

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/atrium-live/atrium/controlplane/api"
	"github.com/atrium-live/atrium/controlplane/media"
	"github.com/atrium-live/atrium/controlplane/recordings"
	"github.com/atrium-live/atrium/pkg/secrets"
	"github.com/atrium-live/atrium/pkg/tlsfile"
)

// Config is everything `atrium controlplane` reads. Build it with DefaultConfig, then
// pkg/config.Load (YAML, then ATRIUM_* environment), which calls Validate.
type Config struct {
	HTTP      HTTPConfig      `yaml:"http"`
	Database  DatabaseConfig  `yaml:"database"`
	Redis     RedisConfig     `yaml:"redis"`
	SMTP      SMTPConfig      `yaml:"smtp"`
	Auth      AuthConfig      `yaml:"auth"`
	RateLimit RateLimitConfig `yaml:"rate_limit"`
	LiveKit   LiveKitConfig   `yaml:"livekit"`
	TURN      TURNConfig      `yaml:"turn"`
	Pricing   PricingConfig   `yaml:"pricing"`
	Jobs      JobsConfig      `yaml:"jobs"`
	Money     MoneyConfig     `yaml:"money"`
	UI        UIConfig        `yaml:"ui"`
	Recording RecordingConfig `yaml:"recording"`
	LogLevel  string          `yaml:"log_level"`
	// SeedDemo inserts demo users and classes at start-up when the database has none.
	SeedDemo bool `yaml:"seed_demo"`
}

// HTTPConfig is the API listener and what it accepts.
type HTTPConfig struct {
	Addr string `yaml:"addr"`
	// PublicURL is where users reach the control plane (links in emails).
	PublicURL string `yaml:"public_url"`
	// CORSOrigins is the allow-list of browser origins for cross-origin API calls.
	CORSOrigins []string `yaml:"cors_origins"`
	// MaxBodyBytes caps every request body; larger bodies get 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxJSONDepth caps how deeply a JSON body may nest (arrays and objects); deeper bodies
	// get 400 before the OpenAPI validator sees them. Zero means 32; at most 1000.
	MaxJSONDepth int `yaml:"max_json_depth"`
	// TrustForwardedFor takes the client IP from X-Forwarded-For (only behind a proxy you run).
	TrustForwardedFor bool `yaml:"trust_forwarded_for"`
	// TrustedProxies lists our reverse proxies (addresses or CIDR prefixes). With
	// TrustForwardedFor the client is the right-most X-Forwarded-For hop not in this list;
	// empty means the peer is the one proxy. A peer outside a non-empty list is the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// MetricsAddr, if set, is where `atrium controlplane` serves /metrics and pprof for
	// operators (keep it off the public network). MetricsToken, if set, also serves /metrics
	// on Addr to callers with "Authorization: Bearer <token>"; without it /metrics on Addr
	// answers 404.
	MetricsAddr     string        `yaml:"metrics_addr"`
	MetricsToken    string        `yaml:"metrics_token"`
	ReadTimeout     time.Duration `yaml:"read_timeout"`
	WriteTimeout    time.Duration `yaml:"write_timeout"`
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// TLSCertFile and TLSKeyFile, when both set, make `atrium controlplane` serve HTTPS itself
	// (with HSTS), re-reading the files when they change (see pkg/tlsfile).
	TLSCertFile string `yaml:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file"`
	// ACME, when Domains are set, obtains certificates from an ACME CA instead (TLS-ALPN-01 on
	// Addr, which must then be reachable on port 443 under those names).
	ACME tlsfile.ACMEParams `yaml:"acme"`
}

// DatabaseConfig is the PostgreSQL connection.
type DatabaseConfig struct {
	URL      string `yaml:"url"`
	MaxConns int32  `yaml:"max_conns"`
	// AutoMigrate applies migrations at start-up (dev); production runs `atrium migrate`.
	AutoMigrate bool `yaml:"auto_migrate"`
}

// RedisConfig is the Redis connection; KeyPrefix namespaces every key we write.
type RedisConfig struct {
	Addr      string `yaml:"addr"`
	Password  string `yaml:"password"`
	DB        int    `yaml:"db"`
	KeyPrefix string `yaml:"key_prefix"`
}

// SMTPConfig is the outgoing mail relay.
type SMTPConfig struct {
	Addr     string `yaml:"addr"`
	From     string `yaml:"from"`
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// AuthConfig holds token lifetimes, lockout and hashing cost.
type AuthConfig struct {
	// JWTSecret signs access tokens (HS256); at least 32 bytes.
	JWTSecret string `yaml:"jwt_secret"`
	// TOTPKey encrypts TOTP seeds at rest (AES-256-GCM); at least 32 bytes. Keep it when
	// rotating jwt_secret: changing it disables every enrolled second factor.
	TOTPKey          string        `yaml:"totp_key"`
	Issuer           string        `yaml:"issuer"`
	AccessTTL        time.Duration `yaml:"access_ttl"`
	RefreshTTL       time.Duration `yaml:"refresh_ttl"`
	VerifyTTL        time.Duration `yaml:"verify_ttl"`
	ResetTTL         time.Duration `yaml:"reset_ttl"`
	LockoutThreshold int           `yaml:"lockout_threshold"`
	LockoutWindow    time.Duration `yaml:"lockout_window"`
	// Argon2 cost: time (passes), memory in KiB, threads.
	ArgonTime      uint32 `yaml:"argon_time"`
	ArgonMemoryKiB uint32 `yaml:"argon_memory_kib"`
	ArgonThreads   uint8  `yaml:"argon_threads"`
	// MaxConcurrentHashes bounds memory: each hash holds ArgonMemoryKiB.
	MaxConcurrentHashes int `yaml:"max_concurrent_hashes"`
}

// RateLimitConfig sets GCRA limits (requests per minute, burst = limit) kept in Redis.
type RateLimitConfig struct {
	Enabled       bool `yaml:"enabled"`
	IPPerMinute   int  `yaml:"ip_per_minute"`
	UserPerMinute int  `yaml:"user_per_minute"`
	// AuthPerMinute applies per IP to /auth endpoints, on top of IPPerMinute.
	AuthPerMinute int `yaml:"auth_per_minute"`
	// ForgotPerHour applies per email address to password-reset requests, and per account
	// and per address to verification-email resends.
	ForgotPerHour int `yaml:"forgot_per_hour"`
	// BadSignaturePerMinute applies per IP to refused webhook signatures (webhooks are
	// otherwise not limited); zero means 30.
	BadSignaturePerMinute int `yaml:"bad_signature_per_minute"`
}

// LiveKitConfig is the key pair shared with the SFU and where clients connect.
type LiveKitConfig struct {
	APIKey    string `yaml:"api_key"`
	APISecret string `yaml:"api_secret"`
	// URL is the SFU's public WebSocket URL handed to clients (ws:// or wss://).
	URL string `yaml:"url"`
	// JoinEarly is how long before the start participants may join.
	JoinEarly time.Duration `yaml:"join_early"`
	// RejoinGrace is how long after the scheduled end people may still join (or come back);
	// then the class is over and its room is closed (docs/classes.md).
	RejoinGrace time.Duration `yaml:"rejoin_grace"`
	// TokenTTL is how long a join token is valid. Keep it short: the SFU refreshes tokens of
	// connected participants over the signal connection, and a token handed out before a
	// booking was cancelled must stop working soon after. Zero means 10 minutes.
	TokenTTL time.Duration `yaml:"token_ttl"`
}

// TURNConfig, when Secret is set, adds TURN servers with coturn REST credentials to join responses.
type TURNConfig struct {
	URLs   []string      `yaml:"urls"`
	Secret string        `yaml:"secret"`
	TTL    time.Duration `yaml:"ttl"`
}

// RecordingConfig connects the control plane to recordings (docs/recording.md): the media
// plane's Egress API to start and stop them, and the recorders' bucket to play and delete them.
type RecordingConfig struct {
	// EgressURL is the http(s) base URL of an SFU node or gateway serving LiveKit's Egress
	// API (egress.redis_addr set there). Empty: derived from livekit.url. "off" disables
	// starting recordings.
	EgressURL string `yaml:"egress_url"`
	// S3 is the recorders' bucket (read and delete rights). An empty endpoint disables
	// playback and deletion.
	S3 recordings.S3Config `yaml:"s3"`
	// RetentionDays is how long recordings are kept unless their class sets its own.
	RetentionDays int `yaml:"retention_days"`
	// SweepInterval is how often recordings past their retention are deleted.
	SweepInterval time.Duration `yaml:"sweep_interval"`
}

// PriceBounds are the allowed prices in credits for one tier, inclusive.
type PriceBounds struct {
	Min int `yaml:"min"`
	Max int `yaml:"max"`
}

// PricingConfig bounds class prices per tier.
type PricingConfig struct {
	Basic   PriceBounds `yaml:"basic"`
	Premium PriceBounds `yaml:"premium"`
	VIP     PriceBounds `yaml:"vip"`
}

// Bounds returns the price bounds of tier ("basic", "premium", "vip") and whether it exists.
func (p PricingConfig) Bounds(tier string) (PriceBounds, bool) {
	switch tier {
	case "basic":
		return p.Basic, true
	case "premium":
		return p.Premium, true
	case "vip":
		return p.VIP, true
	}
	return PriceBounds{}, false
}

// JobsConfig tunes the River background workers.
type JobsConfig struct {
	Workers      int           `yaml:"workers"`
	PollInterval time.Duration `yaml:"poll_interval"`
	// Disabled runs no workers (jobs are still enqueued); for API-only replicas.
	Disabled bool `yaml:"disabled"`
}

// DefaultConfig returns a config that works on a developer machine with the services from
// scripts/services.sh. Secrets here are for local use only; Validate refuses none of them,
// so production must override them (see docs/controlplane.md).
func DefaultConfig() Config {
	return Config{
		HTTP: HTTPConfig{
			Addr:            "127.0.0.1:8080",
			PublicURL:       "http://127.0.0.1:8080",
			MaxBodyBytes:    1 << 20,
			MaxJSONDepth:    32,
			ReadTimeout:     15 * time.Second,
			WriteTimeout:    30 * time.Second,
			ShutdownTimeout: 10 * time.Second,
		},
		Database: DatabaseConfig{URL: "postgres://postgres@127.0.0.1:5432/atrium?sslmode=disable", MaxConns: 20},
		Redis:    RedisConfig{Addr: "127.0.0.1:6379", KeyPrefix: "atrium:cp:"},
		SMTP:     SMTPConfig{Addr: "127.0.0.1:1025", From: "Atrium <no-reply@atrium.local>"},
		Auth: AuthConfig{
			JWTSecret:           "dev-only-secret-change-me-0123456789abcdef",
			TOTPKey:             "dev-only-totp-key-change-me-0123456789abcd",
			Issuer:              "atrium",
			AccessTTL:           15 * time.Minute,
			RefreshTTL:          30 * 24 * time.Hour,
			VerifyTTL:           24 * time.Hour,
			ResetTTL:            time.Hour,
			LockoutThreshold:    5,
			LockoutWindow:       15 * time.Minute,
			ArgonTime:           2,
			ArgonMemoryKiB:      19 * 1024,
			ArgonThreads:        1,
			MaxConcurrentHashes: 4,
		},
		RateLimit: RateLimitConfig{Enabled: true, IPPerMinute: 600, UserPerMinute: 600, AuthPerMinute: 20, ForgotPerHour: 5},
		LiveKit: LiveKitConfig{
			APIKey: "devkey", APISecret: "dev-only-livekit-secret-0123456789abcdef",
			URL: "ws://127.0.0.1:7880", JoinEarly: 15 * time.Minute, RejoinGrace: 10 * time.Minute, TokenTTL: 10 * time.Minute,
		},
		TURN: TURNConfig{TTL: 12 * time.Hour},
		Pricing: PricingConfig{
			Basic:   PriceBounds{Min: 1, Max: 50},
			Premium: PriceBounds{Min: 10, Max: 200},
			VIP:     PriceBounds{Min: 50, Max: 1000},
		},
		Jobs:  JobsConfig{Workers: 4, PollInterval: time.Second},
		Money: defaultMoneyConfig(),
		UI:    UIConfig{VendorDir: "web/node_modules/livekit-client/dist", HLSDir: "web/node_modules/hls.js/dist"},
		Recording: RecordingConfig{RetentionDays: 90, SweepInterval: time.Hour,
			S3: recordings.S3Config{Bucket: "atrium-recordings", Region: "us-east-1"}},
		LogLevel: "info",
	}
}

// Validate reports every problem in the config at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.HTTP.Addr == "" {
		bad("http.addr is required")
	}
	if u, err := url.Parse(c.HTTP.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("http.public_url must be an absolute http(s) URL, got %q", c.HTTP.PublicURL)
	}
	if (c.HTTP.TLSCertFile == "") != (c.HTTP.TLSKeyFile == "") {
		bad("http.tls_cert_file and http.tls_key_file go together")
	}
	if len(c.HTTP.ACME.Domains) > 0 && (c.HTTP.TLSCertFile != "" || c.HTTP.ACME.CacheDir == "") {
		bad("http.acme: domains need a cache_dir and no tls_cert_file")
	}
	if c.HTTP.MaxBodyBytes < 1024 {
		bad("http.max_body_bytes must be at least 1024")
	}
	for _, o := range c.HTTP.CORSOrigins {
		if u, err := url.Parse(o); err != nil || u.Host == "" || u.Path != "" {
			bad("http.cors_origins: %q is not an origin like https://app.example.com", o)
		}
	}
	if c.Database.URL == "" {
		bad("database.url is required")
	}
	if c.Database.MaxConns < 2 {
		bad("database.max_conns must be at least 2")
	}
	if c.Redis.Addr == "" {
		bad("redis.addr is required")
	}
	if c.SMTP.Addr == "" || c.SMTP.From == "" {
		bad("smtp.addr and smtp.from are required")
	}
	a := c.Auth
	if len(a.JWTSecret) < 32 {
		bad("auth.jwt_secret must be at least 32 bytes")
	}
	if len(a.TOTPKey) < 32 {
		bad("auth.totp_key must be at least 32 bytes")
	}
	if a.AccessTTL <= 0 || a.RefreshTTL <= a.AccessTTL || a.VerifyTTL <= 0 || a.ResetTTL <= 0 {
		bad("auth TTLs must be positive and refresh_ttl > access_ttl")
	}
	if a.LockoutThreshold < 1 || a.LockoutWindow <= 0 {
		bad("auth.lockout_threshold and auth.lockout_window must be positive")
	}
	if a.ArgonTime < 1 || a.ArgonMemoryKiB < 1024 || a.ArgonThreads < 1 || a.MaxConcurrentHashes < 1 {
		bad("auth argon cost too low (time>=1, memory>=1024 KiB, threads>=1, max_concurrent_hashes>=1)")
	}
	errs = append(errs, c.validateLimits()...)
	if c.LiveKit.APIKey == "" || len(c.LiveKit.APISecret) < 32 {
		bad("livekit.api_key is required and livekit.api_secret must be at least 32 bytes")
	}
	if u, err := url.Parse(c.LiveKit.URL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
		bad("livekit.url must be a ws:// or wss:// URL, got %q", c.LiveKit.URL)
	}
	if c.LiveKit.JoinEarly < 0 || c.LiveKit.RejoinGrace < 0 {
		bad("livekit.join_early and livekit.rejoin_grace must not be negative")
	}
	if c.LiveKit.TokenTTL < 0 {
		bad("livekit.token_ttl is %s: must not be negative (0 means %s)", c.LiveKit.TokenTTL, media.DefaultTokenTTL)
	}
	if c.TURN.Secret != "" && (len(c.TURN.URLs) == 0 || c.TURN.TTL <= 0) {
		bad("turn.urls and turn.ttl are required when turn.secret is set")
	}
	for _, t := range []string{"basic", "premium", "vip"} {
		b, _ := c.Pricing.Bounds(t)
		if b.Min < 0 || b.Max < b.Min {
			bad("pricing.%s: need 0 <= min <= max, got %d..%d", t, b.Min, b.Max)
		}
	}
	if c.Jobs.Workers < 1 || c.Jobs.PollInterval <= 0 {
		bad("jobs.workers and jobs.poll_interval must be positive")
	}
	if c.Recording.RetentionDays < 1 || c.Recording.RetentionDays > 3650 || c.Recording.SweepInterval <= 0 {
		bad("recording.retention_days must be 1..3650 and recording.sweep_interval positive")
	}
	if c.Recording.S3.Endpoint != "" && (c.Recording.S3.Bucket == "" || c.Recording.S3.AccessKey == "" || c.Recording.S3.SecretKey == "") {
		bad("recording.s3 needs bucket, access_key and secret_key with an endpoint")
	}
	errs = append(errs, c.Money.validate()...)
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level must be debug, info, warn or error")
	}
	return errors.Join(errs...)
}

// validateLimits checks the request limits (issue 17, docs/security.md). Zero means the
// default only where the field says so (max_json_depth, bad_signature_per_minute);
// negative values used to fall back to defaults silently and are refused, naming the key.
func (c *Config) validateLimits() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if d := c.HTTP.MaxJSONDepth; d < 0 || d > maxJSONDepth {
		bad("http.max_json_depth is %d: must be 1 to %d (0 means %d)", d, maxJSONDepth, api.DefaultMaxJSONDepth)
	}
	if _, err := api.ParseProxies(c.HTTP.TrustedProxies); err != nil {
		bad("http.trusted_proxies: %w", err)
	}
	r := c.RateLimit
	for _, l := range []struct {
		key string
		v   int
	}{
		{"ip_per_minute", r.IPPerMinute}, {"user_per_minute", r.UserPerMinute},
		{"auth_per_minute", r.AuthPerMinute}, {"forgot_per_hour", r.ForgotPerHour},
	} {
		if l.v < 0 || (r.Enabled && l.v == 0) {
			bad("rate_limit.%s is %d: must be positive", l.key, l.v)
		}
	}
	if r.BadSignaturePerMinute < 0 {
		bad("rate_limit.bad_signature_per_minute is %d: must not be negative (0 means 30)", r.BadSignaturePerMinute)
	}
	return errs
}

// maxJSONDepth bounds http.max_json_depth: the nesting attack of issue 17 (finding 1) needed
// thousands of levels, and no API body of ours nests past a handful.
const maxJSONDepth = 1000

// Secrets lists the secret settings that must be safe outside dev mode (see pkg/secrets);
// `atrium controlplane` checks them before it serves.
func (c *Config) Secrets() []secrets.Setting {
	return []secrets.Setting{
		{Path: "auth.jwt_secret", Env: "ATRIUM_AUTH_JWT_SECRET", Value: c.Auth.JWTSecret},
		{Path: "auth.totp_key", Env: "ATRIUM_AUTH_TOTP_KEY", Value: c.Auth.TOTPKey},
		{Path: "livekit.api_secret", Env: "ATRIUM_LIVEKIT_API_SECRET", Value: c.LiveKit.APISecret},
		{Path: "money.stripe.secret_key", Env: "ATRIUM_MONEY_STRIPE_SECRET_KEY", Value: c.Money.Stripe.SecretKey},
		{Path: "money.stripe.webhook_secret", Env: "ATRIUM_MONEY_STRIPE_WEBHOOK_SECRET", Value: c.Money.Stripe.WebhookSecret},
		{Path: "recording.s3.secret_key", Env: "ATRIUM_RECORDING_S3_SECRET_KEY", Value: c.Recording.S3.SecretKey, Optional: true, MinLen: 16},
		{Path: "turn.secret", Env: "ATRIUM_TURN_SECRET", Value: c.TURN.Secret, Optional: true},
		{Path: "redis.password", Env: "ATRIUM_REDIS_PASSWORD", Value: c.Redis.Password, Optional: true, MinLen: 16},
	}
}
