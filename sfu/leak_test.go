package sfu_test

import (
	"net/http"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestNoGoroutinesLeftAfterEveryoneLeaves: a room with media and data in both directions,
// then everyone leaves and the room closes; the running server must be back to the
// goroutines it had before anyone joined (the SDK clients' own goroutines included, so a
// leak on either side of a connection shows).
func TestNoGoroutinesLeftAfterEveryoneLeaves(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Room.EmptyTimeout = 200 * time.Millisecond }))
	// Let the server's own goroutines (listeners, muxes) settle before the baseline.
	time.Sleep(100 * time.Millisecond)
	baseline := goleak.IgnoreCurrent()

	func() {
		var alice, bob = mustTryJoin(t, srv, "leak", "alice"), mustTryJoin(t, srv, "leak", "bob")
		defer alice.Disconnect()
		defer bob.Disconnect()
		sub := newSubscriber()
		carol, err := tryJoin(srv, "leak", "carol", sub.callback(), true)
		if err != nil {
			t.Fatal(err)
		}
		defer carol.Disconnect()
		a := publishSynth(t, alice, opusCap, "mic")
		v := publishSynth(t, bob, vp8Cap, "cam")
		eventually(t, 5*time.Second, "media to flow", func() bool {
			r1, ok1 := sub.get(a.pub.SID())
			r2, ok2 := sub.get(v.pub.SID())
			return ok1 && ok2 && r1.packets > 5 && r2.packets > 5
		})
		a.close()
		v.close()
	}()
	eventually(t, 5*time.Second, "the room to close", func() bool {
		resp, err := httpGet(srv.HTTPURL() + "/metrics")
		return err == nil && contains(metricLines(resp), "atrium_sfu_rooms 0")
	})
	http.DefaultClient.CloseIdleConnections() // the /metrics polling above
	// goleak retries for about 2 s; give slow teardown (DTLS close, ICE timers) a few rounds.
	var err error
	for i := 0; i < 3; i++ {
		if err = goleak.Find(baseline); err == nil {
			return
		}
	}
	t.Errorf("goroutines left after everyone left: %v", err)
}

func mustTryJoin(t *testing.T, srv *sfutest.Server, room, id string) *lksdkRoom {
	r, err := tryJoin(srv, room, id, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
