package turn

import (
	"net"
	"net/netip"
)

// DefaultDeniedPeers are the peer ranges a relay refuses unless PeersConfig.Allow re-opens
// them: relaying into them would let any client with credentials reach the relay's own host
// or private network (coturn's no-loopback-peers / denied-peer-ip, RFC 8656 §21.2.4).
var DefaultDeniedPeers = []string{
	"0.0.0.0/8",          // "this" network
	"10.0.0.0/8",         // RFC 1918 private
	"100.64.0.0/10",      // RFC 6598 carrier-grade NAT
	"127.0.0.0/8",        // loopback
	"169.254.0.0/16",     // link-local (and cloud metadata services)
	"172.16.0.0/12",      // RFC 1918 private
	"192.0.0.0/24",       // IETF protocol assignments
	"192.168.0.0/16",     // RFC 1918 private
	"198.18.0.0/15",      // benchmarking
	"224.0.0.0/4",        // multicast
	"240.0.0.0/4",        // reserved, and 255.255.255.255 broadcast
	"::/128",             // unspecified
	"::1/128",            // loopback
	"64:ff9b:1::/48",     // local-use NAT64
	"fc00::/7",           // unique local
	"fe80::/10",          // link-local
	"ff00::/8",           // multicast
	"2001:db8::/32",      // documentation
	"::ffff:0:0/96",      // IPv4-mapped (checked after unmapping too)
	"2002::/16",          // 6to4 can embed any IPv4 address, private ones included
	"100::/64",           // discard-only
	"2001::/32",          // Teredo can embed any IPv4 address
	"2001:10::/28",       // ORCHID
	"2001:20::/28",       // ORCHIDv2
	"fec0::/10",          // deprecated site-local
	"64:ff9b::/96",       // NAT64 well-known prefix can embed private IPv4
	"192.88.99.0/24",     // deprecated 6to4 relay anycast
	"198.51.100.0/24",    // documentation
	"203.0.113.0/24",     // documentation
	"192.0.2.0/24",       // documentation
	"255.255.255.255/32", // broadcast (inside 240/4, listed for readers)
}

// peerPolicy decides whether an allocation may relay to a peer IP. Immutable after
// newPeerPolicy, so safe for concurrent use.
type peerPolicy struct {
	deny, allow []netip.Prefix
}

// newPeerPolicy builds the policy: DefaultDeniedPeers plus cfg.Deny are refused, except what
// cfg.Allow lists (Allow wins, so a test can open 127.0.0.0/8 alone).
func newPeerPolicy(cfg PeersConfig) (*peerPolicy, error) {
	deny, err := parsePrefixes(append(append([]string(nil), DefaultDeniedPeers...), cfg.Deny...))
	if err != nil {
		return nil, err
	}
	allow, err := parsePrefixes(cfg.Allow)
	if err != nil {
		return nil, err
	}
	return &peerPolicy{deny: deny, allow: allow}, nil
}

// Permitted reports whether ip may be a peer. IPv4-mapped IPv6 addresses are judged as IPv4,
// so ::ffff:127.0.0.1 is loopback.
func (p *peerPolicy) Permitted(ip net.IP) bool {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return false
	}
	a = a.Unmap()
	for _, pre := range p.allow {
		if pre.Contains(a) {
			return true
		}
	}
	for _, pre := range p.deny {
		if pre.Contains(a) {
			return false
		}
	}
	return true
}

// PeerPermitted reports whether cfg lets an allocation relay to ip. It exists for tools and
// tests; the server builds the policy once.
func PeerPermitted(cfg PeersConfig, ip net.IP) (bool, error) {
	p, err := newPeerPolicy(cfg)
	if err != nil {
		return false, err
	}
	return p.Permitted(ip), nil
}
