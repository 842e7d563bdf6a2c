package sfu_test

import (
	"errors"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestServerMuteAndRemove: the server side of "mute both ways" and "leave both ways".
func TestServerMuteAndRemove(t *testing.T) {
	srv := sfutest.Serve(t)
	alice := join(t, srv, "r", "alice", nil)
	muted := make(chan bool, 2)
	cb := newSubscriber().callback()
	cb.OnTrackMuted = func(lksdk.TrackPublication, lksdk.Participant) { muted <- true }
	bob := join(t, srv, "r", "bob", cb)
	mic := publishSynth(t, alice, opusCap, "mic")
	eventually(t, 5*time.Second, "bob to see the mic", func() bool { return remotePub(bob, "alice", mic.pub.SID()) != nil })

	if err := srv.MuteTrack("r", "alice", mic.pub.SID(), true); err != nil {
		t.Fatal(err)
	}
	select {
	case <-muted:
	case <-time.After(5 * time.Second):
		t.Fatal("bob did not see the server-side mute")
	}
	if err := srv.MuteTrack("r", "alice", "TR_nope", true); !errors.Is(err, sfu.ErrNotFound) {
		t.Errorf("MuteTrack(unknown track) = %v, want ErrNotFound", err)
	}

	// Server-side unpublish: the publisher's SDK is told (track_unpublished) and bob loses it.
	localGone := make(chan string, 1)
	dave := join(t, srv, "r", "dave", &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnLocalTrackUnpublished: func(pub *lksdk.LocalTrackPublication, _ *lksdk.LocalParticipant) { localGone <- pub.SID() },
	}})
	cam := publishSynth(t, dave, vp8Cap, "cam")
	eventually(t, 5*time.Second, "bob to see dave's camera", func() bool { return remotePub(bob, "dave", cam.pub.SID()) != nil })
	if err := srv.UnpublishTrack("r", "dave", cam.pub.SID()); err != nil {
		t.Fatal(err)
	}
	select {
	case sid := <-localGone:
		if sid != cam.pub.SID() {
			t.Errorf("dave's SDK unpublished %s, want %s", sid, cam.pub.SID())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("dave's SDK was not told its track was unpublished")
	}
	eventually(t, 5*time.Second, "bob to lose dave's camera", func() bool { return remotePub(bob, "dave", cam.pub.SID()) == nil })

	reason := make(chan lksdk.DisconnectionReason, 1)
	carol := join(t, srv, "r", "carol", &lksdk.RoomCallback{OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) { reason <- r }})
	_ = carol
	if err := srv.RemoveParticipant("r", "carol"); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-reason:
		if r != lksdk.ParticipantRemoved {
			t.Errorf("carol disconnected with %q, want %q", r, lksdk.ParticipantRemoved)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("carol was not removed")
	}
	eventually(t, 5*time.Second, "bob to see carol leave", func() bool { return bob.GetParticipantByIdentity("carol") == nil })
}
