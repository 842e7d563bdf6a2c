package signaling

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/clusterconf"
	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/egress"
	"github.com/atrium-live/atrium/pkg/secrets"
)

// Config is the gateway's configuration: defaults (DefaultConfig), then YAML, then
// ATRIUM_SIGNAL_* environment, then Validate.
type Config struct {
	// HTTPAddr serves /rtc, /rtc/validate, the Twirp RoomService, /healthz, /readyz, /metrics.
	HTTPAddr string `yaml:"http_addr"`
	// NodeID names the gateway in gossip; it must be unique in the cluster.
	NodeID string `yaml:"node_id"`
	// Dev accepts devkey/secret and an unencrypted cluster.
	Dev bool `yaml:"dev"`
	// Keys and KeyFile are the API keys tokens are verified with: the SFU nodes' keys.
	Keys    map[string]string `yaml:"keys"`
	KeyFile string            `yaml:"key_file"`
	// DialWait bounds how long a request waits for a dead room owner to be replaced.
	DialWait time.Duration `yaml:"dial_wait"`
	// MetricsAddr, if set, serves /metrics and pprof on an internal listener; MetricsToken,
	// if set, also serves /metrics on HTTPAddr to a bearer of it (404 without one).
	MetricsAddr  string `yaml:"metrics_addr"`
	MetricsToken string `yaml:"metrics_token"`

	Cluster   clusterconf.Cluster   `yaml:"cluster"`
	Placement clusterconf.Placement `yaml:"placement"`
	// Egress serves LiveKit's Egress API (recordings) when its redis_addr is set.
	Egress egress.APIConfig `yaml:"egress"`
}

// DefaultConfig is a production gateway: port 7880 on all interfaces, clustering on.
func DefaultConfig() Config {
	c := Config{HTTPAddr: ":7880", DialWait: 8 * time.Second, Cluster: clusterconf.DefaultCluster(), Placement: clusterconf.DefaultPlacement(),
		Egress: egress.DefaultAPIConfig()}
	c.Cluster.Enabled = true
	return c
}

// DevConfig is a gateway for a laptop: loopback, devkey/secret, the "local" gossip preset.
func DevConfig() Config {
	c := DefaultConfig()
	c.Dev = true
	c.HTTPAddr = "127.0.0.1:7880"
	c.Cluster.BindAddr = "127.0.0.1:7946"
	c.Cluster.Preset = "local"
	return c
}

// Load applies the YAML file at path and ATRIUM_SIGNAL_* variables, then validates.
func (c *Config) Load(path string, lookup func(string) (string, bool)) error {
	if err := config.Load(c, path, "ATRIUM_SIGNAL", lookup); err != nil {
		return fmt.Errorf("signal: %w", err)
	}
	return nil
}

// keySource says where this role's API keys come from (see access.KeySource).
func (c *Config) keySource() access.KeySource {
	return access.KeySource{Inline: c.Keys, File: c.KeyFile, Dev: c.Dev, DevKey: "devkey", DevSecret: "secret"}
}

// apiKeys merges keys, key_file and, in dev mode with none, the development key.
func (c *Config) apiKeys() (access.Keys, error) { return c.keySource().Load() }

// Validate reports the first inconsistency.
func (c *Config) Validate() error {
	if _, err := c.keySource().LoadValid(); err != nil {
		return err
	}
	if _, _, err := net.SplitHostPort(c.HTTPAddr); err != nil {
		return fmt.Errorf("http_addr %q: %w", c.HTTPAddr, err)
	}
	if c.NodeID == "" {
		return errors.New("node_id is required (unique per gateway)")
	}
	if !c.Cluster.Enabled {
		return errors.New("cluster.enabled must be true: a gateway routes to SFU nodes it learns of through gossip")
	}
	if c.DialWait <= 0 {
		return errors.New("dial_wait must be positive")
	}
	if err := c.Cluster.Validate(c.Dev, "ATRIUM_SIGNAL"); err != nil {
		return err
	}
	return c.Placement.Validate()
}

// Secrets lists the secret settings that must be safe outside dev mode (see pkg/secrets):
// every API secret, the gossip key and the placement Redis password. `atrium signal` checks
// them before it serves.
func (c *Config) Secrets() []secrets.Setting {
	keys, err := c.apiKeys()
	return append(secrets.APIKeys(keys, err, "ATRIUM_SIGNAL"), c.Cluster.Secrets("ATRIUM_SIGNAL", c.Placement)...)
}
