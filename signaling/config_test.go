package signaling

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSampleConfig parses config/signal.yaml so it cannot drift from the code.
func TestSampleConfig(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(keyFile, []byte("APIatrium1: 0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"ATRIUM_SIGNAL_KEY_FILE":           keyFile,
		"ATRIUM_SIGNAL_NODE_ID":            "gw-a",
		"ATRIUM_SIGNAL_CLUSTER_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	c := DefaultConfig()
	if err := c.Load("../config/signal.yaml", lookup); err != nil {
		t.Fatalf("config/signal.yaml: %v", err)
	}
	if c.NodeID != "gw-a" || c.DialWait != 8*time.Second || c.Placement.RedisAddr == "" || c.Cluster.SeedDNS == "" {
		t.Errorf("config/signal.yaml parsed to %+v", c)
	}
}

func TestConfigValidate(t *testing.T) {
	key := "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
	good := func() Config {
		c := DefaultConfig()
		c.NodeID = "gw"
		c.Keys = map[string]string{"k": strings.Repeat("s", 32)}
		c.Cluster.SecretKey = key
		return c
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"valid", func(*Config) {}, ""},
		{"no keys", func(c *Config) { c.Keys = nil }, "no API keys"},
		{"short secret", func(c *Config) { c.Keys = map[string]string{"k": "short"} }, "shorter than 32"},
		{"no node id", func(c *Config) { c.NodeID = "" }, "node_id"},
		{"cluster off", func(c *Config) { c.Cluster.Enabled = false }, "cluster.enabled"},
		{"no gossip key in production", func(c *Config) { c.Cluster.SecretKey = "" }, "ATRIUM_SIGNAL_CLUSTER_SECRET_KEY"},
		{"bad gossip key", func(c *Config) { c.Cluster.SecretKey = "bm90LWEta2V5" }, "16, 24 or 32"},
		{"bad preset", func(c *Config) { c.Cluster.Preset = "wan" }, "preset"},
		{"bad signal url", func(c *Config) { c.Cluster.SignalURL = "ftp://x" }, "signal_url"},
		{"short lease", func(c *Config) { c.Placement.LeaseTTL = time.Millisecond }, "lease_ttl"},
		{"dev without gossip key", func(c *Config) { c.Dev, c.Cluster.SecretKey = true, "" }, ""},
	}
	for _, tt := range tests {
		c := good()
		tt.edit(&c)
		err := c.Validate()
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: Validate() = %v, want nil", tt.name, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: Validate() = %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// /metrics on the gateway's public port answers only a bearer of metrics_token (issue 17,
// finding 12): 404 without a token configured, 401 without the header.
func TestGatewayMetricsGuarded(t *testing.T) {
	for _, tc := range []struct {
		token, header string
		want          int
	}{
		{"", "", http.StatusNotFound},
		{"metrics-token-0123456789", "", http.StatusUnauthorized},
		{"metrics-token-0123456789", "Bearer metrics-token-0123456789", http.StatusOK},
	} {
		cfg := DevConfig()
		cfg.NodeID, cfg.HTTPAddr, cfg.MetricsToken = "gw", "127.0.0.1:0", tc.token
		g, err := New(cfg, Deps{})
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
		if tc.header != "" {
			req.Header.Set("Authorization", tc.header)
		}
		g.srv.Handler.ServeHTTP(rec, req)
		_ = g.ln.Close()
		if rec.Code != tc.want {
			t.Errorf("token %q header %q: %d, want %d", tc.token, tc.header, rec.Code, tc.want)
		}
	}
}
