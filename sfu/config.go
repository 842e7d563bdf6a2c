package sfu

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
	"github.com/atrium-live/atrium/pkg/tlsfile"
)

// Dev-mode credentials, the same as LiveKit's `--dev` so SDK examples work unchanged.
const (
	DevAPIKey    = "devkey"
	DevAPISecret = "secret"
)

// Config is everything an SFU node needs. Build it with DefaultConfig (or DevConfig), then
// Load, which applies YAML and ATRIUM_SFU_* environment and validates.
type Config struct {
	// HTTPAddr serves /rtc, /rtc/validate, /healthz, /readyz and /metrics. Ignored when
	// Deps.HTTPListener is given. Port 0 picks a free port.
	HTTPAddr string `yaml:"http_addr"`
	// MetricsAddr, if set, serves /metrics and pprof on a listener of their own (keep it
	// off the public network). MetricsToken, if set, also serves /metrics on HTTPAddr to
	// callers with "Authorization: Bearer <token>"; without it /metrics there answers 404.
	MetricsAddr  string `yaml:"metrics_addr"`
	MetricsToken string `yaml:"metrics_token"`
	// Dev runs with the devkey/secret pair (unless Keys are given) and loopback candidates.
	Dev bool `yaml:"dev"`
	// Keys maps API keys to secrets. KeyFile, a YAML file of "key: secret" lines, adds more
	// (so secrets need not live in the main config).
	Keys    map[string]string `yaml:"keys"`
	KeyFile string            `yaml:"key_file"`

	RTC     RTCConfig     `yaml:"rtc"`
	Room    RoomConfig    `yaml:"room"`
	Signal  SignalConfig  `yaml:"signal"`
	TURN    TURNConfig    `yaml:"turn"`
	Webhook WebhookConfig `yaml:"webhook"`
	// TLS, when both files are set or ACME domains are, makes `atrium sfu` serve HTTPS and
	// WSS on HTTPAddr (with HSTS), re-reading renewed files (see pkg/tlsfile).
	TLS TLSConfig `yaml:"tls"`
	// Cluster and Placement make the node one of many (config_cluster.go).
	Cluster   clusterconf.Cluster   `yaml:"cluster"`
	Placement clusterconf.Placement `yaml:"placement"`
	// Egress serves LiveKit's Egress API (recordings) when its redis_addr is set.
	Egress egress.APIConfig `yaml:"egress"`
	// Relay lets a room span nodes (relay.go, docs/relay.md).
	Relay RelayConfig `yaml:"relay"`
	// Limits bound sizes and rates per client (limits.go); zero fields take defaults.
	Limits LimitsConfig `yaml:"limits"`
	// Tokens sets the refresh_token cadence and lifetime (tokenrefresh.go).
	Tokens TokenConfig `yaml:"tokens"`

	// NodeID names this node in server_info and logs; Region is reported to clients.
	NodeID string `yaml:"node_id"`
	Region string `yaml:"region"`
	// DrainTimeout bounds graceful shutdown: after it, remaining participants are closed.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// RelayConfig makes rooms span nodes: once a room is big enough on its origin (owner) node,
// new participants are placed on other nodes, which receive the room's tracks over one
// encrypted link per node pair (docs/relay.md). Needs cluster.enabled.
type RelayConfig struct {
	// Addr is the link's address, UDP (media) and TCP (room state) on the same port, e.g.
	// ":7883". Empty turns relaying off: every room stays on its owner.
	Addr string `yaml:"addr"`
	// AdvertiseAddr is Addr as other nodes reach it, when it differs (wildcard or NAT).
	AdvertiseAddr string `yaml:"advertise_addr"`
	// ParticipantsPerNode: once a room has this many participants on a node, further
	// participants go to other nodes. 0: no such bound (only MinHeadroom spills).
	ParticipantsPerNode int `yaml:"participants_per_node"`
	// MinHeadroom: while the origin's placement headroom (0..1) is below it, new
	// participants go to other nodes. 0 turns it off.
	MinHeadroom float64 `yaml:"min_headroom"`
	// MaxFanout bounds the relay nodes one node feeds media to (docs/relay.md, "Trees"):
	// past it, further relay nodes of a room pull from relay nodes, a tree. 0: no bound
	// (every relay node pulls from the origin).
	MaxFanout int `yaml:"max_fanout"`
}

// RTCConfig is the WebRTC transport.
type RTCConfig struct {
	// UDPAddr is the one muxed ICE UDP socket (LiveKit's rtc.udp_port). Port 0 picks a free
	// port. Empty means one ephemeral socket per PeerConnection within PortMin..PortMax.
	UDPAddr string `yaml:"udp_addr"`
	// TCPAddr, if set, also accepts ICE over TCP (passive) on this address.
	TCPAddr string `yaml:"tcp_addr"`
	// PortMin/PortMax bound ephemeral ICE ports when UDPAddr is empty.
	PortMin uint16 `yaml:"port_min"`
	PortMax uint16 `yaml:"port_max"`
	// NAT1To1IPs are public addresses advertised as host candidates instead of the local
	// ones, for nodes behind a 1:1 NAT (cloud VMs).
	NAT1To1IPs []string `yaml:"nat_1to1_ips"`
	// AllowLoopback gathers loopback candidates and accepts loopback peers (including TURN
	// relays on 127.0.0.1). On in dev mode and tests; never needed in production.
	AllowLoopback bool `yaml:"allow_loopback"`
	// BatchWrites sends each packet's fan-out on the muxed UDP socket with one sendmmsg
	// instead of one sendto per subscriber. On by default: in alternating lecture 1 -> 100
	// runs with browser-like subscribers it forwarded 12-18% more packets per server
	// CPU-second (bench/results/media-path-2026-12-07.md).
	BatchWrites bool `yaml:"batch_writes"`
}

// RoomConfig is room lifecycle policy.
type RoomConfig struct {
	// EmptyTimeout closes a room this long after its last participant left (or after it was
	// created, if nobody ever connected media).
	EmptyTimeout time.Duration `yaml:"empty_timeout"`
	// MaxParticipants per room; 0 means unlimited.
	MaxParticipants int `yaml:"max_participants"`
	// EnabledCodecs the SFU offers; empty means all it supports.
	EnabledCodecs []string `yaml:"enabled_codecs"`
	// DynacastPauseDelay is how long a video layer nobody wants keeps being requested from
	// its publisher before a subscribed_quality_update turns it off (layers wanted again are
	// turned on at once). 0 turns layers off without waiting.
	DynacastPauseDelay time.Duration `yaml:"dynacast_pause_delay"`
	// Presets are named room options a room can be started with (roomoptions.go).
	Presets map[string]RoomPreset `yaml:"presets"`
}

// SignalConfig tunes the signal connection.
type SignalConfig struct {
	PingInterval    time.Duration `yaml:"ping_interval"`
	PingTimeout     time.Duration `yaml:"ping_timeout"`
	MaxMessageBytes int64         `yaml:"max_message_bytes"`
	// QualityInterval is how often connection_quality updates go out.
	QualityInterval time.Duration `yaml:"quality_interval"`
	// SpeakerInterval is how often active speakers are recomputed.
	SpeakerInterval time.Duration `yaml:"speaker_interval"`
	// ResumeWindow is how long a participant whose signal connection dropped waits for the
	// SDK to resume it (reconnect=1) before leaving; 0 disables resuming.
	ResumeWindow time.Duration `yaml:"resume_window"`
	// SinglePC serves LiveKit's single-PeerConnection path (/rtc/v1, protocol 16); off, the
	// path answers 404 and livekit-client falls back to /rtc (docs/protocol.md).
	SinglePC bool `yaml:"single_pc"`
}

// TURNConfig makes JoinResponse.ice_servers carry fresh coturn-style credentials.
type TURNConfig struct {
	URLs   []string      `yaml:"urls"`
	Secret string        `yaml:"secret"`
	TTL    time.Duration `yaml:"ttl"`
}

// TLSConfig names a PEM certificate chain and its key, or has certificates obtained by ACME.
type TLSConfig struct {
	CertFile string             `yaml:"cert_file"`
	KeyFile  string             `yaml:"key_file"`
	ACME     tlsfile.ACMEParams `yaml:"acme"`
}

// WebhookConfig sends LiveKit-format webhooks signed with APIKey (default: the only key).
type WebhookConfig struct {
	URLs     []string      `yaml:"urls"`
	APIKey   string        `yaml:"api_key"`
	Retries  int           `yaml:"retries"`
	Timeout  time.Duration `yaml:"timeout"`
	Backoff  time.Duration `yaml:"backoff"`
	QueueLen int           `yaml:"queue_len"`
}

// DefaultConfig is a production node: all interfaces, the LiveKit default ports, no keys
// (one must be configured).
func DefaultConfig() Config {
	return Config{
		HTTPAddr: ":7880",
		RTC:      RTCConfig{UDPAddr: ":7882", PortMin: 50000, PortMax: 60000, BatchWrites: true},
		Room:     RoomConfig{EmptyTimeout: 5 * time.Minute, DynacastPauseDelay: 5 * time.Second},
		Signal: SignalConfig{
			PingInterval: 10 * time.Second, PingTimeout: 20 * time.Second,
			MaxMessageBytes: 1 << 20, QualityInterval: 5 * time.Second, SpeakerInterval: 300 * time.Millisecond,
			ResumeWindow: 10 * time.Second, SinglePC: true,
		},
		TURN:         TURNConfig{TTL: 6 * time.Hour},
		Webhook:      WebhookConfig{Retries: 5, Timeout: 5 * time.Second, Backoff: 500 * time.Millisecond, QueueLen: 1000},
		DrainTimeout: 30 * time.Second,
		Cluster:      clusterconf.DefaultCluster(),
		Placement:    clusterconf.DefaultPlacement(),
		Egress:       egress.DefaultAPIConfig(),
	}
}

// DevConfig is `atrium sfu --dev`: loopback only, devkey/secret, loopback candidates.
func DevConfig() Config {
	c := DefaultConfig()
	c.Dev = true
	c.HTTPAddr = "127.0.0.1:7880"
	c.RTC.UDPAddr = "127.0.0.1:7882"
	c.RTC.AllowLoopback = true
	c.Room.EmptyTimeout = 30 * time.Second
	c.DrainTimeout = 5 * time.Second
	return c
}

// Load applies the YAML file at path (may be empty) and ATRIUM_SFU_* environment variables
// (lookup is os.LookupEnv or nil) onto c, reads the key file and validates.
func (c *Config) Load(path string, lookup func(string) (string, bool)) error {
	if err := config.Load(c, path, "ATRIUM_SFU", lookup); err != nil {
		return fmt.Errorf("sfu: %w", err)
	}
	return nil
}

// keySource says where this role's API keys come from (see access.KeySource).
func (c *Config) keySource() access.KeySource {
	return access.KeySource{Inline: c.Keys, File: c.KeyFile, Dev: c.Dev, DevKey: DevAPIKey, DevSecret: DevAPISecret}
}

// apiKeys merges keys, key_file and, in dev mode with none, the development key.
func (c *Config) apiKeys() (access.Keys, error) { return c.keySource().Load() }

// Validate reports the first inconsistency.
func (c *Config) Validate() error {
	keys, err := c.keySource().LoadValid()
	if err != nil {
		return err
	}
	if c.HTTPAddr == "" {
		return errors.New("http_addr is empty")
	}
	for _, a := range []struct{ name, addr string }{{"http_addr", c.HTTPAddr}, {"rtc.udp_addr", c.RTC.UDPAddr}, {"rtc.tcp_addr", c.RTC.TCPAddr}} {
		if a.addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a.addr); err != nil {
			return fmt.Errorf("%s %q: %w", a.name, a.addr, err)
		}
	}
	if c.RTC.UDPAddr == "" && (c.RTC.PortMin == 0 || c.RTC.PortMax < c.RTC.PortMin) {
		return fmt.Errorf("rtc: without udp_addr, port_min..port_max must be a range (got %d..%d)", c.RTC.PortMin, c.RTC.PortMax)
	}
	for _, ip := range c.RTC.NAT1To1IPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("rtc.nat_1to1_ips: %q is not an IP address", ip)
		}
	}
	if c.Room.MaxParticipants < 0 {
		return errors.New("room.max_participants is negative")
	}
	if c.Room.EmptyTimeout <= 0 {
		return errors.New("room.empty_timeout must be positive")
	}
	if err := validatePresets(c.Room.Presets); err != nil {
		return err
	}
	if c.Room.DynacastPauseDelay < 0 {
		return errors.New("room.dynacast_pause_delay must not be negative")
	}
	if c.Signal.PingInterval <= 0 || c.Signal.PingTimeout <= c.Signal.PingInterval {
		return fmt.Errorf("signal: ping_timeout (%s) must exceed a positive ping_interval (%s)", c.Signal.PingTimeout, c.Signal.PingInterval)
	}
	if c.Signal.MaxMessageBytes < 64<<10 {
		return errors.New("signal.max_message_bytes must be at least 64 KiB")
	}
	if c.Signal.ResumeWindow < 0 {
		return errors.New("signal.resume_window must not be negative")
	}
	if c.Signal.QualityInterval <= 0 || c.Signal.SpeakerInterval <= 0 {
		return errors.New("signal.quality_interval and signal.speaker_interval must be positive")
	}
	if len(c.TURN.URLs) > 0 && (c.TURN.Secret == "" || c.TURN.TTL <= 0) {
		return errors.New("turn: urls need a secret and a positive ttl")
	}
	if len(c.Webhook.URLs) > 0 {
		if c.Webhook.APIKey == "" && len(keys) != 1 {
			return errors.New("webhook.api_key must name the signing key when several keys exist")
		}
		if c.Webhook.APIKey != "" && keys[c.Webhook.APIKey] == "" {
			return fmt.Errorf("webhook.api_key %q is not a configured key", c.Webhook.APIKey)
		}
		if c.Webhook.Retries < 0 || c.Webhook.Timeout <= 0 || c.Webhook.QueueLen <= 0 {
			return errors.New("webhook: retries >= 0, timeout > 0 and queue_len > 0 required")
		}
	}
	if c.DrainTimeout <= 0 {
		return errors.New("drain_timeout must be positive")
	}
	if err := c.Limits.validate(); err != nil {
		return err
	}
	if err := c.Tokens.validate(); err != nil {
		return err
	}
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		return errors.New("tls: set both cert_file and key_file, or neither")
	}
	if len(c.TLS.ACME.Domains) > 0 && (c.TLS.CertFile != "" || c.TLS.ACME.CacheDir == "") {
		return errors.New("tls.acme: domains need a cache_dir and no cert_file")
	}
	if err := c.Cluster.Validate(c.Dev, "ATRIUM_SFU"); err != nil {
		return err
	}
	if err := c.Placement.Validate(); err != nil {
		return err
	}
	return nil
}

// SigningKey returns an API key and its secret from a validated config, for tools that mint
// tokens for this node (`atrium token create`): the webhook key if set, else the
// alphabetically first key.
func SigningKey(c Config) (key, secret string) {
	keys, err := c.apiKeys()
	if err != nil || len(keys) == 0 {
		return "", ""
	}
	if c.Webhook.APIKey != "" {
		return c.Webhook.APIKey, keys[c.Webhook.APIKey]
	}
	for k := range keys {
		if key == "" || k < key {
			key = k
		}
	}
	return key, keys[key]
}

// Secrets lists the secret settings that must be safe outside dev mode (see pkg/secrets):
// every API secret (from keys and key_file), turn.secret when TURN is handed out, the gossip
// key when clustering is on and the placement Redis password when set. `atrium sfu` checks
// them before it serves.
func (c *Config) Secrets() []secrets.Setting {
	keys, err := c.apiKeys()
	out := secrets.APIKeys(keys, err, "ATRIUM_SFU")
	out = append(out, secrets.Setting{Path: "turn.secret", Env: "ATRIUM_SFU_TURN_SECRET", Value: c.TURN.Secret, Optional: len(c.TURN.URLs) == 0})
	return append(out, c.Cluster.Secrets("ATRIUM_SFU", c.Placement)...)
}
