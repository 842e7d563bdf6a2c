package sfu_test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestUnpublish: when a publisher removes a track, subscribers lose it and the subscriber
// PC is renegotiated; publishing again works.
func TestUnpublish(t *testing.T) {
	srv := sfutest.Serve(t)
	alice := join(t, srv, "r", "alice", nil)
	unpublished := make(chan string, 4)
	sub := newSubscriber()
	cb := sub.callback()
	cb.OnTrackUnpublished = func(p *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) { unpublished <- p.SID() }
	bob := join(t, srv, "r", "bob", cb)
	cam := publishSynth(t, alice, vp8Cap, "cam")
	sid := cam.pub.SID()
	eventually(t, 5*time.Second, "bob to receive the camera", func() bool { r, ok := sub.get(sid); return ok && r.packets > 5 })

	cam.close()
	if err := alice.LocalParticipant.UnpublishTrack(sid); err != nil {
		t.Fatal(err)
	}
	select {
	case got := <-unpublished:
		if got != sid {
			t.Errorf("unpublished %s, want %s", got, sid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bob was not told the camera was unpublished")
	}
	if remotePub(bob, "alice", sid) != nil {
		t.Errorf("bob still lists the unpublished track")
	}
	again := publishSynth(t, alice, vp8Cap, "cam2")
	eventually(t, 5*time.Second, "bob to receive the new camera", func() bool {
		r, ok := sub.get(again.pub.SID())
		return ok && r.packets > 5
	})
}
