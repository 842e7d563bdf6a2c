package turn_test

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"github.com/atrium-live/atrium/turn"
	"github.com/atrium-live/atrium/turn/turntest"
)

// A user over allocations_per_user gets 486 while other users are served; closing an
// allocation gives the slot back.
func TestQuotaPerUser(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
		c.Quota.AllocationsPerUser = 2
	}})
	first := allocate(t, clientFor(t, relay, "udp", "alice"))
	allocate(t, clientFor(t, relay, "tcp", "alice"))
	for _, transport := range []string{"udp", "tcp"} {
		_, err := clientFor(t, relay, transport, "alice").Allocate()
		if code := turnCode(err); code != 486 {
			t.Fatalf("third allocation of alice over %s: err = %v (code %d), want 486", transport, err, code)
		}
	}
	exchange(t, allocate(t, clientFor(t, relay, "udp", "bob")), newPeer(t), 1)
	if got := metricValue(t, relay.Server.Registry(), "atrium_turn_allocation_rejections_total", map[string]string{"reason": "user_quota"}); got != 2 {
		t.Errorf("allocation_rejections_total{reason=user_quota} = %v, want 2", got)
	}

	// Closing sends Refresh(lifetime 0): the allocation and its quota slot go away.
	if err := first.Close(); err != nil {
		t.Fatalf("close relay conn: %v", err)
	}
	eventually(t, 5*time.Second, "alice's slot to be released", func() bool { return relay.Server.Allocations() == 2 })
	allocate(t, clientFor(t, relay, "udp", "alice"))
}

// allocations_total caps the relay as a whole.
func TestQuotaTotal(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
		c.Quota.AllocationsTotal = 2
	}})
	allocate(t, clientFor(t, relay, "udp", "u1"))
	allocate(t, clientFor(t, relay, "tcp", "u2"))
	_, err := clientFor(t, relay, "udp", "u3").Allocate()
	if code := turnCode(err); code != 486 {
		t.Fatalf("allocation beyond the total: err = %v (code %d), want 486", err, code)
	}
	if got := metricValue(t, relay.Server.Registry(), "atrium_turn_allocation_rejections_total", map[string]string{"reason": "total_quota"}); got != 1 {
		t.Errorf("allocation_rejections_total{reason=total_quota} = %v, want 1", got)
	}
}

// An authenticated Allocate that passes the quota check but that pion then refuses (here
// LIFETIME 0, answered 508) must not consume a quota slot: with a total of 1, another user
// still gets the one allocation afterwards.
func TestQuotaNotLeakedByRefusedAllocate(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
		c.Quota.AllocationsTotal = 1
	}})
	user, pass := relay.Credentials("leaky", time.Hour)
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	server, err := net.ResolveUDPAddr("udp4", relay.Addrs.UDP)
	if err != nil {
		t.Fatal(err)
	}
	requestedUDP := stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}
	roundTrip := func(setters ...stun.Setter) *stun.Message {
		t.Helper()
		req := stun.MustBuild(append([]stun.Setter{stun.TransactionID, stun.NewType(stun.MethodAllocate, stun.ClassRequest)}, setters...)...)
		if _, err := conn.WriteTo(req.Raw, server); err != nil {
			t.Fatal(err)
		}
		raw, _ := readWithin(t, conn, 5*time.Second)
		res := &stun.Message{Raw: append([]byte(nil), raw...)}
		if err := res.Decode(); err != nil {
			t.Fatalf("decode response: %v", err)
		}
		return res
	}
	for i := 0; i < 3; i++ {
		challenge := roundTrip(requestedUDP, stun.Fingerprint)
		var nonce stun.Nonce
		var realm stun.Realm
		if err := nonce.GetFrom(challenge); err != nil {
			t.Fatalf("no nonce in the 401 challenge: %v", err)
		}
		if err := realm.GetFrom(challenge); err != nil {
			t.Fatalf("no realm in the 401 challenge: %v", err)
		}
		res := roundTrip(requestedUDP, stun.NewUsername(user), realm, nonce,
			stun.RawAttribute{Type: stun.AttrLifetime, Value: []byte{0, 0, 0, 0}},
			stun.NewLongTermIntegrity(user, realm.String(), pass), stun.Fingerprint)
		var code stun.ErrorCodeAttribute
		if res.Type.Class != stun.ClassErrorResponse || code.GetFrom(res) != nil || code.Code == stun.CodeUnauthorized {
			t.Fatalf("Allocate with LIFETIME 0: %v (%v), want an error other than 401", res.Type, code)
		}
	}
	if n := relay.Server.Allocations(); n != 0 {
		t.Fatalf("Allocations() = %d after refused Allocates, want 0", n)
	}
	allocate(t, clientFor(t, relay, "udp", "honest"))
}
