package turn_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/atrium-live/atrium/turn/turntest"
)

// Expired, wrong and malformed credentials get 401 on each transport; the relay counts the
// failure by reason and keeps serving valid clients.
func TestAuthRejected(t *testing.T) {
	relay := turntest.Serve(t, turntest.Options{})
	expiredUser, expiredPass := turncred.Generate(relay.Secret, "eve", -time.Minute, time.Now())
	goodUser, _ := relay.Credentials("mallory", time.Hour)
	_, otherSecretPass := turncred.Generate("not-the-secret", "mallory", time.Hour, time.Now())
	cases := []struct {
		name, user, pass, reason string
	}{
		{"expired", expiredUser, expiredPass, "expired"},
		{"wrong password", goodUser, "d3JvbmcgcGFzc3dvcmQ=", "bad_password"},
		{"other secret", goodUser, otherSecretPass, "bad_password"},
		{"malformed username", "alice", turncred.Password(relay.Secret, "alice"), "malformed"},
	}
	for _, transport := range []string{"udp", "tcp"} {
		for _, tc := range cases {
			t.Run(transport+"/"+tc.name, func(t *testing.T) {
				reg := relay.Server.Registry()
				before := metricValue(t, reg, "atrium_turn_auth_failures_total", map[string]string{"reason": tc.reason})
				addr := relay.Addrs.UDP
				if transport == "tcp" {
					addr = relay.Addrs.TCP
				}
				c := newClient(t, clientParams{transport: transport, addr: addr, username: tc.user, password: tc.pass})
				_, err := c.Allocate()
				if code := turnCode(err); code != 401 {
					t.Fatalf("Allocate with %s credentials: err = %v (code %d), want 401", tc.name, err, code)
				}
				if after := metricValue(t, reg, "atrium_turn_auth_failures_total", map[string]string{"reason": tc.reason}); after <= before {
					t.Errorf("auth_failures_total{reason=%s} = %v, want > %v", tc.reason, after, before)
				}
				// The relay still serves a well-behaved client.
				ok := clientFor(t, relay, transport, "good-"+transport)
				exchange(t, allocate(t, ok), newPeer(t), 1)
			})
		}
	}
	if n := relay.Server.Allocations(); n > 2*len(cases) {
		t.Errorf("Allocations() = %d, refused clients must not hold allocations", n)
	}
}

// Credentials valid at Allocate keep working for Refresh after they expire, within
// auth.refresh_grace; a new Allocate with them is refused.
func TestAuthExpiryOnlyGatesNewAllocations(t *testing.T) {
	now := time.Now()
	var shift atomic.Int64 // nanoseconds added to the relay's clock
	relay := turntest.Serve(t, turntest.Options{Deps: depsWithClock(func() time.Time { return now.Add(time.Duration(shift.Load())) })})
	user, pass := turncred.Generate(relay.Secret, "long-class", time.Minute, now)
	c := newClient(t, clientParams{transport: "udp", addr: relay.Addrs.UDP, username: user, password: pass})
	rc := allocate(t, c)
	shift.Store(int64(2 * time.Minute)) // credentials now expired, well within the 4h grace
	peer := newPeer(t)
	// A new permission (CreatePermission) on the existing allocation still works...
	exchange(t, rc, peer, 1)
	// ...but a new allocation with the same credentials does not.
	c2 := newClient(t, clientParams{transport: "udp", addr: relay.Addrs.UDP, username: user, password: pass})
	if _, err := c2.Allocate(); turnCode(err) != 401 {
		t.Fatalf("Allocate with expired credentials: err = %v, want 401", err)
	}
}
