package cluster

import (
	"bufio"
	"bytes"
	"fmt"
	"log"
	"log/slog"
	"strings"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config says how a member joins the cluster. The zero value is not usable: NodeID is
// required. Fields left zero get the defaults documented on each.
type Config struct {
	NodeID        string // unique in the cluster; also the memberlist node name
	BindAddr      string // default "0.0.0.0"
	BindPort      int    // 0 = pick a free port (see Cluster.Addr)
	AdvertiseAddr string // default: derived by memberlist from BindAddr
	AdvertisePort int    // default: the bound port

	Seeds    []string // host:port of members to join
	SeedDNS  string   // a DNS name (Kubernetes headless service) resolved to seeds, port = SeedPort
	SeedPort int      // default 7946

	// SecretKey is a 16, 24 or 32-byte AES key. With it, all gossip is encrypted and
	// incoming unencrypted or foreign-key gossip is refused, so a member without the key
	// can neither join nor inject metadata. Empty only in development and tests.
	SecretKey []byte

	// Preset is "lan" (memberlist.DefaultLANConfig; the default) or "local"
	// (memberlist.DefaultLocalConfig with short probe and suspicion timeouts, for tests on
	// loopback: a dead member is noticed in about 1-2 s).
	Preset string

	// RefreshInterval is how often the own metadata is re-broadcast at the least, on top
	// of the prompt broadcast after each Update (default 2s).
	RefreshInterval time.Duration

	// Logger receives memberlist's logs (at debug) and this package's (default: discard).
	Logger *slog.Logger
}

// Presets.
const (
	PresetLAN   = "lan"
	PresetLocal = "local"
)

const defaultSeedPort = 7946

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.NodeID == "" {
		return out, fmt.Errorf("cluster: config: NodeID is required")
	}
	switch len(out.SecretKey) {
	case 0, 16, 24, 32:
	default:
		return out, fmt.Errorf("cluster: config: SecretKey must be 16, 24 or 32 bytes, got %d", len(out.SecretKey))
	}
	switch out.Preset {
	case "":
		out.Preset = PresetLAN
	case PresetLAN, PresetLocal:
	default:
		return out, fmt.Errorf("cluster: config: unknown Preset %q (want %q or %q)", out.Preset, PresetLAN, PresetLocal)
	}
	if out.BindPort < 0 || out.BindPort > 65535 || out.AdvertisePort < 0 || out.AdvertisePort > 65535 {
		return out, fmt.Errorf("cluster: config: port out of range")
	}
	if out.BindAddr == "" {
		out.BindAddr = "0.0.0.0"
	}
	if out.SeedPort == 0 {
		out.SeedPort = defaultSeedPort
	}
	if out.RefreshInterval < 0 {
		return out, fmt.Errorf("cluster: config: negative RefreshInterval")
	}
	if out.RefreshInterval == 0 {
		out.RefreshInterval = 2 * time.Second
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	return out, nil
}

// memberlistConfig translates c into memberlist's configuration, delegates left to the caller.
func (c *Config) memberlistConfig() *memberlist.Config {
	var mc *memberlist.Config
	switch c.Preset {
	case PresetLocal:
		mc = memberlist.DefaultLocalConfig()
		// Short enough that a killed member is declared dead in about a second or two,
		// long enough that a loaded test machine (-race, shared cores) does not flap.
		mc.ProbeInterval = 250 * time.Millisecond
		mc.ProbeTimeout = 150 * time.Millisecond
		mc.SuspicionMult = 3
		mc.SuspicionMaxTimeoutMult = 4
		mc.GossipInterval = 50 * time.Millisecond
		mc.PushPullInterval = 5 * time.Second
		mc.GossipToTheDeadTime = 2 * time.Second
		mc.DeadNodeReclaimTime = time.Second
	default:
		mc = memberlist.DefaultLANConfig()
		// A restarted pod keeps its NodeID but usually gets a new IP; let it reclaim its
		// name once it has been dead for a while instead of being refused as a conflict.
		mc.DeadNodeReclaimTime = 10 * time.Second
	}
	mc.Name = c.NodeID
	mc.BindAddr = c.BindAddr
	mc.BindPort = c.BindPort
	mc.AdvertiseAddr = c.AdvertiseAddr
	mc.AdvertisePort = c.AdvertisePort
	if c.AdvertisePort == 0 {
		mc.AdvertisePort = c.BindPort
	}
	if len(c.SecretKey) > 0 {
		mc.SecretKey = append([]byte(nil), c.SecretKey...)
		mc.GossipVerifyIncoming = true
		mc.GossipVerifyOutgoing = true
	}
	mc.Logger = log.New(&slogWriter{log: c.Logger.With("component", "memberlist")}, "", 0)
	return mc
}

// slogWriter turns memberlist's log lines ("[WARN] memberlist: ...") into debug records.
type slogWriter struct{ log *slog.Logger }

func (w *slogWriter) Write(p []byte) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(p))
	for sc.Scan() {
		line := sc.Text()
		level := ""
		if strings.HasPrefix(line, "[") {
			if i := strings.IndexByte(line, ']'); i > 0 {
				level, line = line[1:i], strings.TrimSpace(line[i+1:])
			}
		}
		line = strings.TrimPrefix(line, "memberlist: ")
		w.log.Debug(line, "ml_level", level)
	}
	return len(p), nil
}
