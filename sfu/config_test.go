package sfu

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSampleConfigs parses the samples in config/ so they cannot drift from the code.
func TestSampleConfigs(t *testing.T) {
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "keys.yaml")
	if err := os.WriteFile(keyFile, []byte("APIatrium1: 0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"ATRIUM_SFU_KEY_FILE": keyFile, "ATRIUM_SFU_CLUSTER_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }

	prod := DefaultConfig()
	if err := prod.Load("../config/sfu.yaml", lookup); err != nil {
		t.Fatalf("config/sfu.yaml: %v", err)
	}
	if prod.RTC.UDPAddr != ":7882" || prod.Room.MaxParticipants != 200 || prod.TURN.TTL != 6*time.Hour || len(prod.RTC.NAT1To1IPs) != 1 {
		t.Errorf("config/sfu.yaml parsed to %+v", prod)
	}
	if !prod.Cluster.Enabled || prod.Cluster.SeedDNS == "" || prod.Placement.LeaseTTL != 10*time.Second {
		t.Errorf("config/sfu.yaml cluster/placement parsed to %+v / %+v", prod.Cluster, prod.Placement)
	}
	// Without the gossip key the production sample refuses to start.
	delete(env, "ATRIUM_SFU_CLUSTER_SECRET_KEY")
	noKey := DefaultConfig()
	if err := noKey.Load("../config/sfu.yaml", lookup); err == nil || !strings.Contains(err.Error(), "CLUSTER_SECRET_KEY") {
		t.Errorf("config/sfu.yaml without a gossip key: %v, want an error naming ATRIUM_SFU_CLUSTER_SECRET_KEY", err)
	}
	if k, s := SigningKey(prod); k != "APIatrium1" || len(s) != 32 {
		t.Errorf("SigningKey = %q/%q, want the key file's key", k, s)
	}

	dev := DevConfig()
	if err := dev.Load("../config/sfu.dev.yaml", nil); err != nil {
		t.Fatalf("config/sfu.dev.yaml: %v", err)
	}
	if !dev.Dev || dev.HTTPAddr != "127.0.0.1:7880" || !dev.RTC.AllowLoopback {
		t.Errorf("config/sfu.dev.yaml parsed to %+v", dev)
	}
	if k, s := SigningKey(dev); k != DevAPIKey || s != DevAPISecret {
		t.Errorf("dev SigningKey = %q/%q", k, s)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no keys", func(c *Config) { c.Dev = false }, "no API keys"},
		{"short secret", func(c *Config) { c.Dev = false; c.Keys = map[string]string{"k": "short"} }, "shorter than 32"},
		{"bad addr", func(c *Config) { c.HTTPAddr = "nope" }, "http_addr"},
		{"bad nat ip", func(c *Config) { c.RTC.NAT1To1IPs = []string{"x"} }, "nat_1to1_ips"},
		{"turn without secret", func(c *Config) { c.TURN.URLs = []string{"turn:127.0.0.1:3478"} }, "turn"},
		{"ping", func(c *Config) { c.Signal.PingTimeout = c.Signal.PingInterval }, "ping_timeout"},
		{"webhook key", func(c *Config) { c.Webhook.URLs = []string{"http://x"}; c.Webhook.APIKey = "other" }, "webhook.api_key"},
		{"port range", func(c *Config) { c.RTC.UDPAddr = ""; c.RTC.PortMin = 10; c.RTC.PortMax = 5 }, "port_min"},
	}
	for _, tc := range tests {
		c := DevConfig()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want error containing %q", tc.name, err, tc.want)
		}
	}
	c := DevConfig()
	if err := c.Validate(); err != nil {
		t.Errorf("DevConfig().Validate() = %v", err)
	}
}

func TestConfigUnknownKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(path, []byte("dev: true\nhttp_adr: x\n"), 0o600)
	c := DevConfig()
	if err := c.Load(path, nil); err == nil || !strings.Contains(err.Error(), "http_adr") {
		t.Errorf("Load with unknown key = %v, want an error naming it", err)
	}
}
