package sfu_test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestExplicitSubscription: with auto_subscribe=0 nothing arrives until the client asks;
// unsubscribing stops the flow.
func TestExplicitSubscription(t *testing.T) {
	srv := sfutest.Serve(t)
	alice := join(t, srv, "r", "alice", nil)
	vid := publishSynth(t, alice, vp8Cap, "cam")

	sub := newSubscriber()
	bob, err := tryJoin(srv, "r", "bob", sub.callback(), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bob.Disconnect)
	var pub *lksdk.RemoteTrackPublication
	eventually(t, 5*time.Second, "bob to see alice's track", func() bool {
		pub = remotePub(bob, "alice", vid.pub.SID())
		return pub != nil
	})
	time.Sleep(500 * time.Millisecond)
	if _, ok := sub.get(vid.pub.SID()); ok {
		t.Fatalf("bob received a track without subscribing (auto_subscribe=0)")
	}

	if err := pub.SetSubscribed(true); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "media after subscribing", func() bool {
		r, ok := sub.get(vid.pub.SID())
		return ok && r.packets > 10
	})

	// track_setting disabled pauses the flow without unsubscribing; enabling resumes it.
	pub.SetEnabled(false)
	time.Sleep(300 * time.Millisecond)
	p1, _ := sub.get(vid.pub.SID())
	time.Sleep(400 * time.Millisecond)
	if p2, _ := sub.get(vid.pub.SID()); p2.packets != p1.packets {
		t.Errorf("still receiving while disabled: %d -> %d packets", p1.packets, p2.packets)
	}
	pub.SetEnabled(true)
	eventually(t, 3*time.Second, "media after re-enabling", func() bool {
		r, _ := sub.get(vid.pub.SID())
		return r.packets > p1.packets+5
	})

	if err := pub.SetSubscribed(false); err != nil {
		t.Fatal(err)
	}
	// After unsubscribing the count must stop growing.
	time.Sleep(500 * time.Millisecond)
	r1, _ := sub.get(vid.pub.SID())
	time.Sleep(500 * time.Millisecond)
	r2, _ := sub.get(vid.pub.SID())
	if r2.packets != r1.packets {
		t.Errorf("still receiving after unsubscribe: %d -> %d packets", r1.packets, r2.packets)
	}
}

// TestCannotPublishWithoutGrant: canPublish=false makes the SDK's publish fail and nobody
// sees a track.
func TestCannotPublishWithoutGrant(t *testing.T) {
	t.Parallel() // the SDK waits out its 10 s publish timeout: LiveKit ignores such add_track too
	srv := sfutest.Serve(t)
	watcher := join(t, srv, "r", "watcher", nil)
	viewer := join(t, srv, "r", "viewer", nil, sfutest.CanPublish(false))
	track, err := lksdk.NewLocalSampleTrack(opusCap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "mic"}); err == nil {
		t.Errorf("PublishTrack succeeded without canPublish")
	}
	rp := watcher.GetParticipantByIdentity("viewer")
	if rp == nil || len(rp.TrackPublications()) != 0 {
		t.Errorf("watcher sees viewer %v with tracks; want no tracks", rp)
	}
}

// TestPublishOnly: a participant without canSubscribe (a camera feed) connects with the
// publisher PC primary and publishes; it is never sent anyone's tracks.
func TestPublishOnly(t *testing.T) {
	srv := sfutest.Serve(t)
	viewerSub := newSubscriber()
	join(t, srv, "r", "viewer", viewerSub.callback())
	feedSub := newSubscriber()
	feed := join(t, srv, "r", "feed", feedSub.callback(), sfutest.CanSubscribe(false))
	other := join(t, srv, "r", "other", nil)
	cam := publishSynth(t, feed, vp8Cap, "cam")
	publishSynth(t, other, opusCap, "mic")
	eventually(t, 5*time.Second, "the viewer to receive the feed", func() bool {
		r, ok := viewerSub.get(cam.pub.SID())
		return ok && r.packets > 10
	})
	time.Sleep(300 * time.Millisecond)
	feedSub.mu.Lock()
	n := len(feedSub.tracks)
	feedSub.mu.Unlock()
	if n != 0 {
		t.Errorf("a participant without canSubscribe received %d tracks", n)
	}
}
