package sfu_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestSimulcast: a three-layer VP8 publication; the subscriber's requested quality decides
// which layer it is sent (seen in the dimensions of the keyframes it receives).
func TestSimulcast(t *testing.T) {
	srv := sfutest.Serve(t)
	alice := join(t, srv, "r", "alice", nil)
	sub := newSubscriber()
	bob := join(t, srv, "r", "bob", sub.callback())
	dims := [3][2]int{{160, 120}, {320, 240}, {640, 480}}
	sim := publishSimulcast(t, alice, dims)
	sid := sim.pub.SID()
	eventually(t, 5*time.Second, "bob to receive the simulcast track", func() bool {
		r, ok := sub.get(sid)
		return ok && r.keyframes > 0
	})
	pub := remotePub(bob, "alice", sid)
	if pub == nil {
		t.Fatal("bob has no publication for the simulcast track")
	}
	for _, step := range []struct {
		q     livekit.VideoQuality
		width int
	}{
		{livekit.VideoQuality_LOW, 160},
		{livekit.VideoQuality_HIGH, 640},
		{livekit.VideoQuality_MEDIUM, 320},
	} {
		if err := pub.SetVideoQuality(step.q); err != nil {
			t.Fatal(err)
		}
		eventually(t, 3*time.Second, "keyframes of width "+step.q.String(), func() bool {
			r, _ := sub.get(sid)
			return r.keyWidth == step.width
		})
		// Still flowing after the switch.
		r1, _ := sub.get(sid)
		time.Sleep(200 * time.Millisecond)
		if r2, _ := sub.get(sid); r2.packets <= r1.packets {
			t.Errorf("%s: no packets after the switch", step.q)
		}
	}
}
