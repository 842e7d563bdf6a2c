package api

import (
	"net/netip"
	"testing"
)

func TestForwardedClient(t *testing.T) {
	proxies, err := ParseProxies([]string{"10.0.0.0/8", "192.0.2.1"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		// No list: the peer is our proxy, the right-most hop is what it saw.
		{"127.0.0.1", []string{"6.6.6.6, 203.0.113.7"}, nil, "203.0.113.7"},
		{"127.0.0.1", []string{"6.6.6.6", "203.0.113.7"}, nil, "203.0.113.7"},
		{"127.0.0.1", nil, nil, "127.0.0.1"},
		{"127.0.0.1", []string{"garbage"}, nil, "127.0.0.1"},
		// With a list: skip our proxies from the right.
		{"10.1.1.1", []string{"6.6.6.6, 203.0.113.7, 10.2.2.2"}, proxies, "203.0.113.7"},
		{"192.0.2.1", []string{"203.0.113.7, 192.0.2.1"}, proxies, "203.0.113.7"},
		// The client wrote a trusted-looking first hop: still the right-most untrusted wins.
		{"10.1.1.1", []string{"10.9.9.9, 203.0.113.7"}, proxies, "203.0.113.7"},
		// A peer that is not our proxy is the client; its header is ignored.
		{"198.51.100.5", []string{"1.2.3.4"}, proxies, "198.51.100.5"},
		// Everything trusted: the peer.
		{"10.1.1.1", []string{"10.2.2.2"}, proxies, "10.1.1.1"},
		// Garbage to the right of the client stops the walk.
		{"10.1.1.1", []string{"203.0.113.7, nonsense"}, proxies, "10.1.1.1"},
		{"10.1.1.1", []string{"::ffff:203.0.113.7"}, proxies, "203.0.113.7"},
	} {
		if got := forwardedClient(tc.peer, tc.xff, tc.trusted); got != tc.want {
			t.Errorf("forwardedClient(%q, %q, %v) = %q, want %q", tc.peer, tc.xff, tc.trusted, got, tc.want)
		}
	}
	if _, err := ParseProxies([]string{"not-an-ip"}); err == nil {
		t.Error("ParseProxies accepted not-an-ip")
	}
}
