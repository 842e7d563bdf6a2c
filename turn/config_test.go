package turn_test

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/turn"
)

// The sample in config/turn.yaml parses strictly and, with the secret from the environment as
// deployed (ATRIUM_AUTH_SECRET), validates; it documents the defaults, so they must agree.
func TestSampleConfig(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "config", "turn.yaml")
	cfg := turn.DefaultConfig()
	env := map[string]string{"ATRIUM_AUTH_SECRET": "from-env"}
	if err := config.Load(&cfg, path, "ATRIUM", func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	if cfg.Auth.Secret != "from-env" {
		t.Errorf("Auth.Secret = %q, want it from ATRIUM_AUTH_SECRET", cfg.Auth.Secret)
	}
	want := turn.DefaultConfig()
	want.Auth.Secret = "from-env"
	want.Relay.ExternalIP = "203.0.113.10"
	if got, w := cfg, want; got.Realm != w.Realm || got.Listen != w.Listen || got.Relay != w.Relay ||
		got.Auth != w.Auth || got.Quota != w.Quota || got.HTTP != w.HTTP || got.DrainTimeout != w.DrainTimeout ||
		got.LogLevel != w.LogLevel || got.TLS != w.TLS || len(got.Peers.Allow) != 0 || len(got.Peers.Deny) != 0 {
		t.Errorf("sample config = %+v\nwant defaults %+v (plus external_ip)", got, w)
	}
}

func TestValidate(t *testing.T) {
	valid := func() turn.Config {
		c := turn.DefaultConfig()
		c.Auth.Secret = "s"
		c.Relay.ExternalIP = "198.51.100.7"
		return c
	}
	if c := valid(); c.Validate() != nil {
		t.Fatalf("valid config: %v", c.Validate())
	}
	cases := []struct {
		name   string
		edit   func(*turn.Config)
		wantIn string
	}{
		{"no secret", func(c *turn.Config) { c.Auth.Secret = "" }, "auth.secret"},
		{"no external ip on 0.0.0.0", func(c *turn.Config) { c.Relay.ExternalIP = "" }, "external_ip"},
		{"bad external ip", func(c *turn.Config) { c.Relay.ExternalIP = "turn.example" }, "external_ip"},
		{"no listener", func(c *turn.Config) { c.Listen = turn.ListenConfig{} }, "at least one"},
		{"tls without cert", func(c *turn.Config) { c.Listen.TLS = ":5349" }, "cert_file"},
		{"bad address", func(c *turn.Config) { c.Listen.UDP = "3478" }, "listen.udp"},
		{"reversed ports", func(c *turn.Config) { c.Relay.PortMin, c.Relay.PortMax = 60000, 50000 }, "port range"},
		{"one port zero", func(c *turn.Config) { c.Relay.PortMin = 0 }, "port range"},
		{"negative quota", func(c *turn.Config) { c.Quota.AllocationsPerUser = -1 }, "quota"},
		{"burst below a packet", func(c *turn.Config) { c.Quota.BandwidthPerAllocation = 1000 }, "bandwidth_burst"},
		{"bad cidr", func(c *turn.Config) { c.Peers.Allow = []string{"10.0.0.0/33"} }, "peers.allow"},
		{"bad log level", func(c *turn.Config) { c.LogLevel = "loud" }, "log_level"},
		{"negative drain", func(c *turn.Config) { c.DrainTimeout = -time.Second }, "drain_timeout"},
	}
	for _, tc := range cases {
		c := valid()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.wantIn) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", tc.name, err, tc.wantIn)
		}
	}
	c := valid()
	c.Relay.Address, c.Relay.ExternalIP = "10.0.0.5", ""
	if err := c.Validate(); err != nil {
		t.Errorf("specific relay.address without external_ip: Validate() = %v, want nil (announce the bound IP)", err)
	}
}

func TestICEURLs(t *testing.T) {
	addrs := turn.Addrs{UDP: "0.0.0.0:3478", TCP: "0.0.0.0:3478", TLS: "0.0.0.0:443", HTTP: "0.0.0.0:9478"}
	got := strings.Join(turn.ICEURLs(addrs, "turn.example.org"), " ")
	want := "turn:turn.example.org:3478?transport=udp turn:turn.example.org:3478?transport=tcp turns:turn.example.org:443?transport=tcp"
	if got != want {
		t.Errorf("ICEURLs(public host) = %q, want %q", got, want)
	}
	got = strings.Join(turn.ICEURLs(turn.Addrs{UDP: "127.0.0.1:5000"}, ""), " ")
	if want := "turn:127.0.0.1:5000?transport=udp"; got != want {
		t.Errorf("ICEURLs(bound) = %q, want %q", got, want)
	}
	if c := turn.DevConfig(); c.Listen.UDP != "127.0.0.1:3478" || c.Listen.TCP != "127.0.0.1:3478" || len(c.Peers.Allow) == 0 {
		t.Errorf("DevConfig() = %+v, want 127.0.0.1:3478 with loopback peers allowed", c)
	}
}
