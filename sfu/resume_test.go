package sfu_test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestResume: when a subscriber's signal connection drops, the SDK resumes the same session
// (same sid, media keeps flowing) and the others never see it leave.
func TestResume(t *testing.T) {
	srv := sfutest.Serve(t)
	left := make(chan string, 4)
	alice := join(t, srv, "r", "alice", &lksdk.RoomCallback{
		OnParticipantDisconnected: func(p *lksdk.RemoteParticipant) { left <- p.Identity() },
	})
	reconnected := make(chan struct{}, 1)
	sub := newSubscriber()
	cb := sub.callback()
	cb.OnReconnected = func() { reconnected <- struct{}{} }
	bob := join(t, srv, "r", "bob", cb)
	sidBefore := bob.LocalParticipant.SID()
	cam := publishSynth(t, alice, vp8Cap, "cam")
	eventually(t, 5*time.Second, "bob to receive video", func() bool { r, ok := sub.get(cam.pub.SID()); return ok && r.packets > 5 })

	if err := sfu.DropSignalForTest(srv.Server, "r", "bob"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reconnected:
	case <-time.After(10 * time.Second):
		t.Fatal("bob did not reconnect")
	}
	if got := bob.LocalParticipant.SID(); got != sidBefore {
		t.Errorf("bob's sid changed from %s to %s: rejoined instead of resumed", sidBefore, got)
	}
	r1, _ := sub.get(cam.pub.SID())
	eventually(t, 15*time.Second, "media after the resume", func() bool { r, _ := sub.get(cam.pub.SID()); return r.packets > r1.packets+10 })
	select {
	case id := <-left:
		t.Errorf("alice saw %s leave during a resume", id)
	default:
	}
	// The resumed signal connection works: bob's mute reaches alice.
	mic := publishSynth(t, bob, opusCap, "mic")
	eventually(t, 5*time.Second, "alice to see bob's mic", func() bool { return remotePub(alice, "bob", mic.pub.SID()) != nil })
}
