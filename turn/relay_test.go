package turn_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/atrium-live/atrium/turn"
	"github.com/atrium-live/atrium/turn/turntest"
)

// A client allocates over each client transport and exchanges datagrams with a peer through
// the relay, in both directions; the metrics count them under that transport.
func TestRelayUDPAndTCP(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{})
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			client := clientFor(t, relay, transport, "alice-"+transport)
			relayConn := allocate(t, client)
			relayAddr := relayConn.LocalAddr().(*net.UDPAddr)
			if !relayAddr.IP.Equal(net.IPv4(127, 0, 0, 1)) {
				t.Fatalf("relayed address %s, want 127.0.0.1 (relay.address)", relayAddr)
			}
			exchange(t, relayConn, newPeer(t), 5)
			reg := relay.Server.Registry()
			for _, dir := range []string{"to_peer", "from_peer"} {
				got := metricValue(t, reg, "atrium_turn_relayed_packets_total", map[string]string{"transport": transport, "direction": dir})
				if got < 5 {
					t.Errorf("relayed_packets_total{transport=%s,direction=%s} = %v, want >= 5", transport, dir, got)
				}
			}
			if got := metricValue(t, reg, "atrium_turn_allocations", map[string]string{"transport": transport}); got != 1 {
				t.Errorf("allocations{transport=%s} = %v, want 1", transport, got)
			}
		})
	}
}

// exchange sends n datagrams each way between a client's relay socket and a peer, checking
// content and that the peer sees the relayed address as the source.
func exchange(t *testing.T, relayConn net.PacketConn, peer *net.UDPConn, n int) {
	t.Helper()
	relayAddr := relayConn.LocalAddr().String()
	for i := 0; i < n; i++ {
		out := []byte(fmt.Sprintf("client->peer %d", i))
		if _, err := relayConn.WriteTo(out, peer.LocalAddr()); err != nil {
			t.Fatalf("relay WriteTo peer: %v", err)
		}
		got, from := readWithin(t, peer, 5*time.Second)
		if !bytes.Equal(got, out) {
			t.Fatalf("peer got %q, want %q", got, out)
		}
		if from.String() != relayAddr {
			t.Fatalf("peer got datagram from %s, want the relayed address %s", from, relayAddr)
		}
		back := []byte(fmt.Sprintf("peer->client %d", i))
		if _, err := peer.WriteTo(back, from); err != nil {
			t.Fatalf("peer WriteTo relay: %v", err)
		}
		got, from = readWithin(t, relayConn, 5*time.Second)
		if !bytes.Equal(got, back) {
			t.Fatalf("client got %q, want %q", got, back)
		}
		if from.String() != peer.LocalAddr().String() {
			t.Fatalf("client got datagram from %s, want peer %s", from, peer.LocalAddr())
		}
	}
}

// TURN over TLS (turns:) with a certificate from files, and a relay port range.
func TestRelayTLSAndPortRange(t *testing.T) {
	certFile, keyFile, pool := selfSignedCert(t, "127.0.0.1")
	const lo, hi = 42000, 42100
	relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
		c.Listen.TLS = "127.0.0.1:0"
		c.TLS = turn.TLSConfig{CertFile: certFile, KeyFile: keyFile}
		c.Relay.PortMin, c.Relay.PortMax = lo, hi
	}})
	user, pass := relay.Credentials("tls-user", time.Hour)
	client := newClient(t, clientParams{
		transport: "tls", addr: relay.Addrs.TLS, username: user, password: pass,
		tlsConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12},
	})
	relayConn := allocate(t, client)
	if p := relayConn.LocalAddr().(*net.UDPAddr).Port; p < lo || p > hi {
		t.Fatalf("relay port %d outside the configured range %d-%d", p, lo, hi)
	}
	exchange(t, relayConn, newPeer(t), 3)
	if got := metricValue(t, relay.Server.Registry(), "atrium_turn_relayed_packets_total", map[string]string{"transport": "tls"}); got < 6 {
		t.Errorf("relayed_packets_total{transport=tls} = %v, want >= 6", got)
	}
}
