package controlplane

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/config"
)

// The sample config must load, and must equal the defaults, so it cannot drift from the code.
func TestSampleConfigMatchesDefaults(t *testing.T) {
	cfg := DefaultConfig()
	if err := config.Load(&cfg, "../config/controlplane.yaml", "ATRIUM", nil); err != nil {
		t.Fatalf("load sample: %v", err)
	}
	if want := DefaultConfig(); !reflect.DeepEqual(cfg, want) {
		t.Errorf("sample config differs from DefaultConfig:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"short jwt secret", func(c *Config) { c.Auth.JWTSecret = "short" }, "jwt_secret"},
		{"bad public url", func(c *Config) { c.HTTP.PublicURL = "example.com" }, "public_url"},
		{"bad livekit url", func(c *Config) { c.LiveKit.URL = "http://x" }, "livekit.url"},
		{"inverted price bounds", func(c *Config) { c.Pricing.VIP = PriceBounds{Min: 10, Max: 5} }, "pricing.vip"},
		{"cors path", func(c *Config) { c.HTTP.CORSOrigins = []string{"https://a.example/x"} }, "cors_origins"},
		{"turn without urls", func(c *Config) { c.TURN.Secret = "s" }, "turn.urls"},
		// Limits (issue 17): negative values used to fall back to the defaults silently.
		{"negative json depth", func(c *Config) { c.HTTP.MaxJSONDepth = -1 }, "http.max_json_depth is -1"},
		{"absurd json depth", func(c *Config) { c.HTTP.MaxJSONDepth = 10000 }, "http.max_json_depth is 10000"},
		{"bad trusted proxy", func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "proxy.local"} }, `http.trusted_proxies: trusted proxy "proxy.local"`},
		{"negative token ttl", func(c *Config) { c.LiveKit.TokenTTL = -time.Minute }, "livekit.token_ttl is -1m0s"},
		{"zero ip rate", func(c *Config) { c.RateLimit.IPPerMinute = 0 }, "rate_limit.ip_per_minute is 0"},
		{"negative user rate", func(c *Config) { c.RateLimit.UserPerMinute = -5 }, "rate_limit.user_per_minute is -5"},
		{"zero auth rate", func(c *Config) { c.RateLimit.AuthPerMinute = 0 }, "rate_limit.auth_per_minute"},
		{"negative forgot rate", func(c *Config) { c.RateLimit.ForgotPerHour = -1 }, "rate_limit.forgot_per_hour"},
		{"negative rate while disabled", func(c *Config) { c.RateLimit.Enabled = false; c.RateLimit.IPPerMinute = -1 }, "rate_limit.ip_per_minute is -1"},
		{"negative bad signatures", func(c *Config) { c.RateLimit.BadSignaturePerMinute = -30 }, "rate_limit.bad_signature_per_minute is -30"},
		{"small body", func(c *Config) { c.HTTP.MaxBodyBytes = -1 }, "http.max_body_bytes"},
	} {
		c := DefaultConfig()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Errorf("DefaultConfig().Validate() = %v", err)
	}
	// Zero means the default where documented, and sensible values pass.
	for name, edit := range map[string]func(*Config){
		"zero json depth":       func(c *Config) { c.HTTP.MaxJSONDepth = 0 },
		"json depth 1000":       func(c *Config) { c.HTTP.MaxJSONDepth = 1000 },
		"zero token ttl":        func(c *Config) { c.LiveKit.TokenTTL = 0 },
		"zero bad signatures":   func(c *Config) { c.RateLimit.BadSignaturePerMinute = 0 },
		"rate limit off, zeros": func(c *Config) { c.RateLimit = RateLimitConfig{} },
		"trusted proxies":       func(c *Config) { c.HTTP.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.7", "::1"} },
	} {
		c := DefaultConfig()
		edit(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v, want nil", name, err)
		}
	}
}

func TestConfigEnvOverride(t *testing.T) {
	cfg := DefaultConfig()
	env := map[string]string{"ATRIUM_HTTP_ADDR": "0.0.0.0:9000", "ATRIUM_PRICING_VIP_MAX": "2000"}
	if err := config.Load(&cfg, "", "ATRIUM", func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if cfg.HTTP.Addr != "0.0.0.0:9000" || cfg.Pricing.VIP.Max != 2000 {
		t.Errorf("env not applied: addr %q vip max %d", cfg.HTTP.Addr, cfg.Pricing.VIP.Max)
	}
}
