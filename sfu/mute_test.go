package sfu_test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestMute: a publisher's mute and unmute reach the other participants.
func TestMute(t *testing.T) {
	srv := sfutest.Serve(t)
	alice := join(t, srv, "r", "alice", nil)
	muted := make(chan bool, 4)
	cb := newSubscriber().callback()
	cb.OnTrackMuted = func(lksdk.TrackPublication, lksdk.Participant) { muted <- true }
	cb.OnTrackUnmuted = func(lksdk.TrackPublication, lksdk.Participant) { muted <- false }
	bob := join(t, srv, "r", "bob", cb)
	mic := publishSynth(t, alice, opusCap, "mic")
	eventually(t, 5*time.Second, "bob to see the mic", func() bool {
		return remotePub(bob, "alice", mic.pub.SID()) != nil
	})
	for _, want := range []bool{true, false} {
		mic.pub.SetMuted(want)
		select {
		case got := <-muted:
			if got != want {
				t.Fatalf("bob saw muted=%v, want %v", got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("bob did not see muted=%v", want)
		}
		if pub := remotePub(bob, "alice", mic.pub.SID()); pub.IsMuted() != want {
			t.Errorf("publication IsMuted = %v, want %v", pub.IsMuted(), want)
		}
	}
}
