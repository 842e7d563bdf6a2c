package sfu

import (
	"math"
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
		// Limits (issue 17): negative values used to fall back to the defaults silently.
		{"negative api body", func(c *Config) { c.Limits.MaxAPIBodyBytes = -1 }, "limits.max_api_body_bytes is -1"},
		{"tiny api body", func(c *Config) { c.Limits.MaxAPIBodyBytes = 100 }, "limits.max_api_body_bytes is 100"},
		{"negative metadata", func(c *Config) { c.Limits.MaxMetadataBytes = -64000 }, "limits.max_metadata_bytes"},
		{"negative name", func(c *Config) { c.Limits.MaxNameBytes = -1 }, "limits.max_name_bytes"},
		{"negative attributes", func(c *Config) { c.Limits.MaxAttributesBytes = -1 }, "limits.max_attributes_bytes"},
		{"negative update rate", func(c *Config) { c.Limits.MetadataUpdatesPerSecond = -2 }, "limits.metadata_updates_per_second"},
		{"NaN update rate", func(c *Config) { c.Limits.MetadataUpdatesPerSecond = math.NaN() }, "limits.metadata_updates_per_second"},
		{"infinite update rate", func(c *Config) { c.Limits.MetadataUpdatesPerSecond = math.Inf(1) }, "limits.metadata_updates_per_second"},
		{"negative burst", func(c *Config) { c.Limits.MetadataUpdateBurst = -10 }, "limits.metadata_update_burst"},
		{"negative queue", func(c *Config) { c.Limits.SignalQueueBytes = -1 }, "limits.signal_queue_bytes is -1"},
		{"tiny queue", func(c *Config) { c.Limits.SignalQueueBytes = 4096 }, "limits.signal_queue_bytes is 4096"},
		{"negative refresh", func(c *Config) { c.Tokens.RefreshInterval = -time.Minute }, "tokens.refresh_interval"},
		{"negative token ttl", func(c *Config) { c.Tokens.TTL = -time.Minute }, "tokens.ttl is -1m0s"},
		{"ttl under refresh", func(c *Config) { c.Tokens.TTL = 4 * time.Minute }, "tokens.ttl (4m0s) must exceed tokens.refresh_interval (5m0s)"},
		{"ttl equal refresh", func(c *Config) { c.Tokens.RefreshInterval, c.Tokens.TTL = time.Minute, time.Minute }, "must exceed tokens.refresh_interval"},
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
	// Zero means the default (documented), and sensible values pass.
	for name, edit := range map[string]func(*Config){
		"zero limits":    func(c *Config) { c.Limits = LimitsConfig{} },
		"default limits": func(c *Config) { c.Limits = DefaultLimits() },
		"floors": func(c *Config) {
			c.Limits.MaxAPIBodyBytes, c.Limits.SignalQueueBytes = minAPIBodyBytes, minSignalQueueBytes
		},
		"zero tokens":      func(c *Config) { c.Tokens = TokenConfig{} },
		"short tokens":     func(c *Config) { c.Tokens = TokenConfig{RefreshInterval: time.Minute, TTL: 2 * time.Minute} },
		"ttl over default": func(c *Config) { c.Tokens.TTL = 6 * time.Minute },
		"fractional rate":  func(c *Config) { c.Limits.MetadataUpdatesPerSecond = 0.5 },
	} {
		c := DevConfig()
		edit(&c)
		if err := c.Validate(); err != nil {
			t.Errorf("%s: Validate() = %v, want nil", name, err)
		}
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
