// Package clusterconf is the YAML face of cluster membership and room placement, shared by
// SFU nodes (`atrium sfu`) and gateways (`atrium signal`): the settings, their validation,
// and the constructors that turn them into a pkg/cluster config and a pkg/placement store.
package clusterconf

import (
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/placement"
)

// ClusterConfig joins the node to the gossip cluster of SFU nodes and gateways
// (docs/cluster.md). Disabled, the node is a cluster of one: every room is placed on it.
type Cluster struct {
	Enabled bool `yaml:"enabled"`
	// BindAddr is the gossip host:port (TCP and UDP). Port 0 picks a free one (tests).
	BindAddr string `yaml:"bind_addr"`
	// AdvertiseAddr is the gossip host:port others reach this node at; empty uses BindAddr.
	AdvertiseAddr string `yaml:"advertise_addr"`
	// Seeds are gossip host:ports of members to join; SeedDNS a name (a Kubernetes headless
	// service) whose addresses are seeds on port SeedPort.
	Seeds    []string `yaml:"seeds"`
	SeedDNS  string   `yaml:"seed_dns"`
	SeedPort int      `yaml:"seed_port"`
	// SecretKey is the base64 of a 16, 24 or 32-byte AES key shared by every member: gossip
	// is encrypted and members without it are refused. Required outside dev mode.
	SecretKey string `yaml:"secret_key"`
	// Preset tunes failure detection: "lan" (production) or "local" (tests, a laptop).
	Preset string `yaml:"preset"`
	// SignalURL is the base URL other members proxy /rtc and Twirp calls to, e.g.
	// http://10.0.0.5:7880; empty derives it from the advertised gossip host and HTTP port.
	SignalURL string `yaml:"signal_url"`
	// LoadInterval is how often the node's load is refreshed in its gossip metadata.
	LoadInterval time.Duration `yaml:"load_interval"`
	// MaxParticipants is the node's capacity used for placement headroom (0: unknown,
	// CPU alone decides).
	MaxParticipants int `yaml:"max_participants"`
}

// PlacementConfig is room ownership: a lease per room in Redis (or in memory for one node).
type Placement struct {
	// RedisAddr holds the leases; empty keeps them in this process (single node, dev).
	RedisAddr     string `yaml:"redis_addr"`
	RedisPassword string `yaml:"redis_password"`
	RedisDB       int    `yaml:"redis_db"`
	KeyPrefix     string `yaml:"key_prefix"`
	// LeaseTTL is how long a lease outlives its owner's last renewal (renewed every third).
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// FallbackLocal places new rooms on this node when Redis is unavailable instead of
	// refusing them (rooms already running never depend on Redis).
	FallbackLocal bool `yaml:"fallback_local"`
}

// DefaultCluster is clustering off, with production settings once enabled.
func DefaultCluster() Cluster {
	return Cluster{BindAddr: ":7946", Preset: "lan", LoadInterval: 2 * time.Second, SeedPort: 7946}
}

// DefaultPlacement keeps leases in memory with a 10 s TTL.
func DefaultPlacement() Placement {
	return Placement{KeyPrefix: "atrium:room:", LeaseTTL: 10 * time.Second}
}

// gossipKey decodes SecretKey.
// GossipKey decodes SecretKey (nil when empty).
func (c Cluster) GossipKey() ([]byte, error) {
	if c.SecretKey == "" {
		return nil, nil
	}
	k, err := base64.StdEncoding.DecodeString(c.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("cluster.secret_key is not base64: %w", err)
	}
	switch len(k) {
	case 16, 24, 32:
		return k, nil
	}
	return nil, fmt.Errorf("cluster.secret_key decodes to %d bytes; want 16, 24 or 32", len(k))
}

// Validate checks c; outside dev mode an enabled cluster needs a gossip key. envPrefix
// names the variable to set in messages (e.g. ATRIUM_SFU).
func (c Cluster) Validate(dev bool, envPrefix string) error {
	if !c.Enabled {
		return nil
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		return fmt.Errorf("cluster.bind_addr %q: %w", c.BindAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("cluster.advertise_addr %q: %w", c.AdvertiseAddr, err)
		}
	}
	key, err := c.GossipKey()
	if err != nil {
		return err
	}
	if key == nil && !dev {
		return errors.New("cluster.secret_key is required outside dev mode (gossip must be encrypted): set " + envPrefix + "_CLUSTER_SECRET_KEY to base64 of 32 random bytes (openssl rand -base64 32)")
	}
	if c.Preset != "lan" && c.Preset != "local" {
		return fmt.Errorf("cluster.preset %q: want lan or local", c.Preset)
	}
	if c.SignalURL != "" {
		u, err := url.Parse(c.SignalURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("cluster.signal_url %q: want an absolute http(s) URL", c.SignalURL)
		}
	}
	if c.LoadInterval <= 0 {
		return errors.New("cluster.load_interval must be positive")
	}
	if c.MaxParticipants < 0 {
		return errors.New("cluster.max_participants is negative")
	}
	return nil
}

// Validate checks p.
func (c Placement) Validate() error {
	if c.LeaseTTL < time.Second {
		return errors.New("placement.lease_ttl must be at least 1s")
	}
	return nil
}

// GossipConfig builds the pkg/cluster config for member nodeID.
func (c Cluster) GossipConfig(nodeID string, log *slog.Logger) (cluster.Config, error) {
	key, err := c.GossipKey()
	if err != nil {
		return cluster.Config{}, err
	}
	host, portStr, err := net.SplitHostPort(c.BindAddr)
	if err != nil {
		return cluster.Config{}, fmt.Errorf("cluster.bind_addr: %w", err)
	}
	port, _ := strconv.Atoi(portStr)
	cfg := cluster.Config{
		NodeID: nodeID, BindAddr: host, BindPort: port,
		Seeds: c.Seeds, SeedDNS: c.SeedDNS, SeedPort: c.SeedPort,
		SecretKey: key, Preset: c.Preset, RefreshInterval: c.LoadInterval,
		Logger: log,
	}
	if c.AdvertiseAddr != "" {
		ah, ap, _ := net.SplitHostPort(c.AdvertiseAddr)
		cfg.AdvertiseAddr = ah
		cfg.AdvertisePort, _ = strconv.Atoi(ap)
	}
	return cfg, nil
}

// Open returns the lease store p names: Redis when RedisAddr is set (close it with the
// returned func), else an in-process store.
func (c Placement) Open() (placement.Leases, func() error) {
	if c.RedisAddr == "" {
		return placement.NewMemory(time.Now), func() error { return nil }
	}
	rc := redis.NewClient(&redis.Options{
		Addr: c.RedisAddr, Password: c.RedisPassword, DB: c.RedisDB,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
		MaxRetries: 1,
	})
	return placement.NewRedis(rc, c.KeyPrefix), rc.Close
}

// SignalURLFor derives a member's advertised base URL: SignalURL if set, else http:// the
// advertised gossip host (or 127.0.0.1 for an unspecified one) and the HTTP listener's port.
func (c Cluster) SignalURLFor(httpAddr net.Addr) string {
	if c.SignalURL != "" {
		return c.SignalURL
	}
	host, port, _ := net.SplitHostPort(httpAddr.String())
	if c.AdvertiseAddr != "" {
		if h, _, err := net.SplitHostPort(c.AdvertiseAddr); err == nil && h != "" {
			host = h
		}
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}).String()
}
