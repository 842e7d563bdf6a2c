package api

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ParseProxies turns a list of addresses and CIDR prefixes ("10.0.0.0/8", "127.0.0.1")
// into prefixes for Handler.TrustedProxies.
func ParseProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: want an address or a CIDR prefix", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// clientIP is the address rate limits and sessions are keyed by.
func (h *Handler) clientIP(r *http.Request) string {
	if !h.TrustForwardedFor {
		return peerHost(r.RemoteAddr)
	}
	return forwardedClient(peerHost(r.RemoteAddr), r.Header.Values("X-Forwarded-For"), h.TrustedProxies)
}

func peerHost(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// forwardedClient picks the client address from the peer and its X-Forwarded-For headers.
// Every proxy appends the address it received the request from, so only the right end of
// the list is written by proxies we run: the client is the right-most hop that is not one of
// our proxies (issue 17, finding 7: the left-most hop, which the client writes, defeated the
// per-IP limits). With no trusted list the peer is taken to be our one proxy, and the
// right-most hop is the client. A peer outside a non-empty trusted list is the client itself
// (its header is not ours). Unparseable hops stop the walk: what lies left of them is
// client-written.
func forwardedClient(peer string, xff []string, trusted []netip.Prefix) string {
	isTrusted := func(s string) bool {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return false
		}
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	if len(trusted) > 0 && !isTrusted(peer) {
		return peer
	}
	var hops []string
	for _, v := range xff {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(hops[i])
		if err != nil {
			break
		}
		if len(trusted) == 0 || !isTrusted(hops[i]) {
			return a.Unmap().String()
		}
	}
	return peer
}
