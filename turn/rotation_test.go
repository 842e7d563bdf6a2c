package turn_test

import (
	"net"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/atrium-live/atrium/turn/turntest"
)

// A secret rotation keeps live allocations (docs/operations.md, "Rotate the TURN secret"):
// with the previous secret still accepted, an allocation made before the rotation keeps
// authenticating (CreatePermission to a new peer IP) and clients holding old credentials still
// allocate, while new credentials work at once; once the previous secret is dropped, old
// credentials are refused. Each CreatePermission goes to a fresh loopback IP, since
// permissions are per peer IP and only a new one makes the client authenticate again.
func TestSecretRotationKeepsLiveAllocations(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			relay := turntest.Serve(t, turntest.Options{Secret: "secret-before-rotation"})
			addr := relay.Addrs.UDP
			if transport == "tcp" {
				addr = relay.Addrs.TCP
			}
			client := func(secret, identity string) clientParams {
				user, pass := turncred.Generate(secret, identity, time.Hour, time.Now())
				return clientParams{transport: transport, addr: addr, username: user, password: pass}
			}
			live := allocate(t, newClient(t, client("secret-before-rotation", "live")))
			exchange(t, live, newPeerAt(t, "127.0.0.2"), 1)

			if err := relay.Server.SetSecrets("secret-after-rotation", "secret-before-rotation"); err != nil {
				t.Fatal(err)
			}
			exchange(t, live, newPeerAt(t, "127.0.0.3"), 1)
			exchange(t, allocate(t, newClient(t, client("secret-before-rotation", "old-sfu"))), newPeerAt(t, "127.0.0.4"), 1)
			rotated := allocate(t, newClient(t, client("secret-after-rotation", "new-sfu")))
			exchange(t, rotated, newPeerAt(t, "127.0.0.5"), 1)

			if err := relay.Server.SetSecrets("secret-after-rotation", ""); err != nil {
				t.Fatal(err)
			}
			if _, err := live.WriteTo([]byte("x"), newPeerAt(t, "127.0.0.6").LocalAddr()); err == nil {
				t.Fatal("CreatePermission with credentials of the dropped secret succeeded, want 401")
			}
			if _, err := newClient(t, client("secret-before-rotation", "late")).Allocate(); turnCode(err) != 401 {
				t.Fatalf("Allocate with the dropped secret: err = %v, want 401", err)
			}
			exchange(t, rotated, newPeerAt(t, "127.0.0.7"), 1)
		})
	}
}

func TestSetSecretsRefusesEmpty(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{})
	if err := relay.Server.SetSecrets("", "old"); err == nil {
		t.Fatal("SetSecrets with an empty current secret = nil, want an error")
	}
}

// newPeerAt is a UDP peer on the given loopback IP.
func newPeerAt(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatalf("listen peer on %s: %v", ip, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
