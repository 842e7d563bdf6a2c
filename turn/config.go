package turn

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/atrium-live/atrium/pkg/secrets"
)

// Config is the whole configuration of one TURN relay. Load it with pkg/config: defaults from
// DefaultConfig, then YAML (config/turn.yaml is the annotated sample), then ATRIUM_TURN_* variables
// (ATRIUM_TURN_AUTH_SECRET sets Auth.Secret), then Validate.
type Config struct {
	// Realm is the TURN realm sent in 401 responses (RFC 8489 §9.2). Clients echo it; it does not
	// need to be a DNS name.
	Realm  string       `yaml:"realm"`
	Listen ListenConfig `yaml:"listen"`
	TLS    TLSConfig    `yaml:"tls"`
	Relay  RelayConfig  `yaml:"relay"`
	Auth   AuthConfig   `yaml:"auth"`
	Quota  QuotaConfig  `yaml:"quota"`
	Peers  PeersConfig  `yaml:"peers"`
	// HTTP is the address of the small HTTP listener serving /healthz, /readyz and /metrics.
	// Empty disables it.
	HTTP string `yaml:"http"`
	// DrainTimeout bounds graceful shutdown: readiness fails and new allocations are refused at
	// once; existing allocations keep relaying until they end or this much time has passed.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// LogLevel is debug, info, warn or error. Read by cmd/atrium, which builds the logger.
	LogLevel string `yaml:"log_level"`
}

// ListenConfig says where clients reach the relay. An empty address disables that transport.
type ListenConfig struct {
	// UDP is the STUN/TURN-over-UDP address, e.g. "0.0.0.0:3478".
	UDP string `yaml:"udp"`
	// TCP is the STUN/TURN-over-TCP address (RFC 8656 §3.1). Also the port to put behind a load
	// balancer that terminates TLS: clients then use a turns: URL that points at the balancer.
	TCP string `yaml:"tcp"`
	// TLS is the TURN-over-TLS address, e.g. "0.0.0.0:5349". Needs TLS.CertFile and TLS.KeyFile.
	TLS string `yaml:"tls"`
	// UDPSockets is how many SO_REUSEPORT sockets share the UDP address, each read by its own
	// goroutine, so client-to-peer relaying uses more than one core. 0 means GOMAXPROCS.
	UDPSockets int `yaml:"udp_sockets"`
	// TCPIdleTimeout closes a TCP or TLS client connection that sends nothing for this long,
	// with its allocation. WebRTC clients send ICE consent checks every few seconds. 0 disables.
	TCPIdleTimeout time.Duration `yaml:"tcp_idle_timeout"`
}

// TLSConfig names the PEM certificate chain and key for the TLS listener. The files are read
// again when they change (checked at most every minute), so a renewed certificate needs no restart.
type TLSConfig struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
}

// RelayConfig controls the relayed transport addresses handed to clients.
type RelayConfig struct {
	// Address is the local IP relay sockets bind to, e.g. "0.0.0.0".
	Address string `yaml:"address"`
	// ExternalIP is the IP announced in XOR-RELAYED-ADDRESS: the public address peers reach the
	// relay at (behind 1:1 NAT, the public one). Defaults to Address when Address is a specific IP.
	ExternalIP string `yaml:"external_ip"`
	// PortMin and PortMax bound relay ports (inclusive). Both 0 lets the OS choose.
	PortMin int `yaml:"port_min"`
	PortMax int `yaml:"port_max"`
}

// AuthConfig holds the coturn REST shared secret (see pkg/turncred).
type AuthConfig struct {
	Secret string `yaml:"secret"`
	// PreviousSecret, set only during a rotation (docs/operations.md), is also accepted:
	// allocations made with it keep refreshing and SFUs not yet rotated keep working. Remove it
	// once every credential minted with it has expired (credential TTL + refresh_grace).
	PreviousSecret string `yaml:"previous_secret"`
	// RefreshGrace lets Refresh, CreatePermission and ChannelBind requests of an existing
	// allocation use credentials that expired less than this long ago, so a class that outlasts
	// the credential TTL keeps its relay. New allocations always need unexpired credentials.
	RefreshGrace time.Duration `yaml:"refresh_grace"`
}

// QuotaConfig limits what one user (the identity in "<expiry>:<identity>") and the whole relay
// may hold. 0 means unlimited.
type QuotaConfig struct {
	AllocationsPerUser int `yaml:"allocations_per_user"`
	AllocationsTotal   int `yaml:"allocations_total"`
	// BandwidthPerAllocation caps the bytes per second relayed by one allocation, both directions
	// together; packets over the cap are dropped (media is loss-tolerant; queuing would add delay).
	BandwidthPerAllocation int `yaml:"bandwidth_per_allocation"`
	// BandwidthBurst is the token-bucket depth in bytes; 0 means one second of
	// BandwidthPerAllocation. Must hold at least one full packet (1500 bytes).
	BandwidthBurst int `yaml:"bandwidth_burst"`
}

// PeersConfig decides which peer addresses an allocation may relay to. Private, loopback,
// link-local, CGNAT, multicast and other special-purpose ranges (see DefaultDeniedPeers) are
// refused, plus Deny; Allow re-opens ranges (tests allow 127.0.0.0/8). Entries are CIDRs or IPs.
type PeersConfig struct {
	Allow []string `yaml:"allow"`
	Deny  []string `yaml:"deny"`
}

// DefaultConfig returns the production defaults: UDP and TCP on 3478, TLS off (no certificate),
// relay ports 49152-65535, 10 allocations per user, 10,000 in total, no bandwidth cap.
// Auth.Secret and Relay.ExternalIP have no default: Validate asks for them.
func DefaultConfig() Config {
	return Config{
		Realm: "atrium",
		Listen: ListenConfig{
			UDP:            "0.0.0.0:3478",
			TCP:            "0.0.0.0:3478",
			TCPIdleTimeout: 2 * time.Minute,
		},
		Relay: RelayConfig{
			Address: "0.0.0.0",
			PortMin: 49152,
			PortMax: 65535,
		},
		Auth: AuthConfig{RefreshGrace: 4 * time.Hour},
		Quota: QuotaConfig{
			AllocationsPerUser: 10,
			AllocationsTotal:   10000,
		},
		HTTP:         "0.0.0.0:9478",
		DrainTimeout: 30 * time.Second,
		LogLevel:     "info",
	}
}

// LocalConfig returns a configuration for tests and `atrium dev`: every listener on 127.0.0.1
// port 0 (TLS off), OS-chosen relay ports, loopback peers allowed, short drain. The caller sets
// Auth.Secret.
func LocalConfig() Config {
	c := DefaultConfig()
	c.Listen = ListenConfig{UDP: "127.0.0.1:0", TCP: "127.0.0.1:0", UDPSockets: 1, TCPIdleTimeout: c.Listen.TCPIdleTimeout}
	c.Relay = RelayConfig{Address: "127.0.0.1"}
	c.Peers.Allow = []string{"127.0.0.0/8", "::1"}
	c.HTTP = "127.0.0.1:0"
	c.DrainTimeout = time.Second
	return c
}

// DevConfig is the relay `atrium dev` runs next to the SFU: LocalConfig on the standard port,
// UDP and TCP on 127.0.0.1:3478, health on 127.0.0.1:9478. The caller sets Auth.Secret (the
// SFU's turn.secret) and hands the SFU turn:127.0.0.1:3478?transport=udp and ?transport=tcp.
func DevConfig() Config {
	c := LocalConfig()
	c.Listen.UDP, c.Listen.TCP = "127.0.0.1:3478", "127.0.0.1:3478"
	c.HTTP = "127.0.0.1:9478"
	return c
}

// ICEURLs returns the turn: URLs clients use to reach listeners at addrs: UDP and TCP as
// turn:host:port?transport=..., TLS as turns:host:port?transport=tcp. host replaces the bound
// host (use the relay's public name); "" keeps the bound address.
func ICEURLs(addrs Addrs, host string) []string {
	var urls []string
	add := func(scheme, addr, transport string) {
		if addr == "" {
			return
		}
		if host != "" {
			if _, port, err := net.SplitHostPort(addr); err == nil {
				addr = net.JoinHostPort(host, port)
			}
		}
		urls = append(urls, scheme+":"+addr+"?transport="+transport)
	}
	add("turn", addrs.UDP, "udp")
	add("turn", addrs.TCP, "tcp")
	add("turns", addrs.TLS, "tcp")
	return urls
}

// Validate reports every problem it finds, joined.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Realm == "" {
		add("realm must not be empty")
	}
	if c.Listen.UDP == "" && c.Listen.TCP == "" && c.Listen.TLS == "" {
		add("listen: at least one of udp, tcp, tls is needed")
	}
	for name, a := range map[string]string{"listen.udp": c.Listen.UDP, "listen.tcp": c.Listen.TCP, "listen.tls": c.Listen.TLS, "http": c.HTTP} {
		if a == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(a); err != nil {
			add("%s %q: %w", name, a, err)
		}
	}
	if c.Listen.UDPSockets < 0 || c.Listen.TCPIdleTimeout < 0 {
		add("listen.udp_sockets and listen.tcp_idle_timeout must be >= 0")
	}
	if c.Listen.TLS != "" && (c.TLS.CertFile == "" || c.TLS.KeyFile == "") {
		add("listen.tls needs tls.cert_file and tls.key_file (or use listen.tcp behind a TLS-terminating load balancer)")
	}
	if _, _, err := c.relayIPs(); err != nil {
		errs = append(errs, err)
	}
	switch {
	case c.Relay.PortMin == 0 && c.Relay.PortMax == 0:
	case c.Relay.PortMin < 1 || c.Relay.PortMax > 65535 || c.Relay.PortMin > c.Relay.PortMax:
		add("relay: port range %d-%d invalid (want 1 <= port_min <= port_max <= 65535, or both 0)", c.Relay.PortMin, c.Relay.PortMax)
	}
	if c.Auth.Secret == "" {
		add("auth.secret must be set (ATRIUM_TURN_AUTH_SECRET); it is the secret shared with the SFU")
	}
	if c.Auth.RefreshGrace < 0 {
		add("auth.refresh_grace must be >= 0")
	}
	if c.Quota.AllocationsPerUser < 0 || c.Quota.AllocationsTotal < 0 || c.Quota.BandwidthPerAllocation < 0 || c.Quota.BandwidthBurst < 0 {
		add("quota: values must be >= 0 (0 means unlimited)")
	}
	if c.Quota.BandwidthPerAllocation > 0 && c.burst() < minBurst {
		add("quota.bandwidth_burst must be at least %d bytes (one packet)", minBurst)
	}
	if _, err := parsePrefixes(c.Peers.Allow); err != nil {
		add("peers.allow: %w", err)
	}
	if _, err := parsePrefixes(c.Peers.Deny); err != nil {
		add("peers.deny: %w", err)
	}
	if c.DrainTimeout < 0 {
		add("drain_timeout must be >= 0")
	}
	switch c.LogLevel {
	case "", "debug", "info", "warn", "error":
	default:
		add("log_level %q: want debug, info, warn or error", c.LogLevel)
	}
	return errors.Join(errs...)
}

// minBurst is one full-size packet: a smaller bucket would drop every packet.
const minBurst = 1500

func (c *Config) burst() int {
	if c.Quota.BandwidthBurst > 0 {
		return c.Quota.BandwidthBurst
	}
	return c.Quota.BandwidthPerAllocation
}

// relayIPs returns the bind and announced relay IPs.
func (c *Config) relayIPs() (bind, external net.IP, err error) {
	bind = net.ParseIP(c.Relay.Address)
	if bind == nil {
		return nil, nil, fmt.Errorf("relay.address %q is not an IP", c.Relay.Address)
	}
	if c.Relay.ExternalIP == "" {
		if bind.IsUnspecified() {
			return nil, nil, fmt.Errorf("relay.external_ip must be set when relay.address is %s: it is the address peers reach the relay at", bind)
		}
		return bind, bind, nil
	}
	external = net.ParseIP(c.Relay.ExternalIP)
	if external == nil {
		return nil, nil, fmt.Errorf("relay.external_ip %q is not an IP", c.Relay.ExternalIP)
	}
	return bind, external, nil
}

// parsePrefixes accepts CIDRs and bare IPs (as /32 or /128).
func parsePrefixes(in []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(in))
	for _, s := range in {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR nor an IP", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Secrets lists the secret settings that must be safe in production (see pkg/secrets);
// `atrium turn` checks them before it serves.
func (c *Config) Secrets() []secrets.Setting {
	out := []secrets.Setting{{Path: "auth.secret", Env: "ATRIUM_TURN_AUTH_SECRET", Value: c.Auth.Secret}}
	if c.Auth.PreviousSecret != "" {
		out = append(out, secrets.Setting{Path: "auth.previous_secret", Env: "ATRIUM_TURN_AUTH_PREVIOUS_SECRET", Value: c.Auth.PreviousSecret})
	}
	return out
}
