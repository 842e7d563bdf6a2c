package controlplane

import (
	"reflect"
	"strings"
	"testing"

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
