package sfu_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// subscriberSenders is sfu.SubscriberSendersForTest, failing the test on error.
func subscriberSenders(t *testing.T, srv *sfutest.Server, room, identity string) int {
	t.Helper()
	n, err := sfu.SubscriberSendersForTest(srv.Server, room, identity)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func downTracks(t *testing.T, srv *sfutest.Server, room, publisher, trackSID string) int {
	t.Helper()
	n, err := sfu.DownTracksForTest(srv.Server, room, publisher, trackSID)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUnsubscribeWhileOfferInFlight: a subscription removed after the server offered it and
// before the client answered. pion starts every sender of an offer when its answer is
// applied; a sender removed at that moment failed the answer ("Sender Track has been removed
// or replaced to nil") and ended the participant (the flaky TestServerMuteAndRemove). The
// server must hold the sender until the answer is in, and still: stop the media and free the
// DownTrack at once, show the client the track ended in the next offer, and let it subscribe
// again.
func TestUnsubscribeWhileOfferInFlight(t *testing.T) {
	srv := sfutest.Serve(t)
	bob := newRawSubscriber(t, srv, "r", "bob")
	bob.answer(bob.offer("the first offer", nil))
	bob.connected()

	alice := join(t, srv, "r", "alice", nil)
	cam := publishSynth(t, alice, vp8Cap, "cam")
	sid := cam.pub.SID()
	offered := bob.offer("the offer with alice's camera", func(s string) bool { return sends(t, s, sid) })
	if n := subscriberSenders(t, srv, "r", "bob"); n != 1 {
		t.Fatalf("bob's subscriber PC has %d senders, want 1 (the camera)", n)
	}

	bob.subscribe(sid, false) // before answering
	if n := downTracks(t, srv, "r", "alice", sid); n != 0 {
		t.Errorf("the camera still has %d DownTracks after bob unsubscribed, want 0", n)
	}
	if n := subscriberSenders(t, srv, "r", "bob"); n != 1 {
		t.Fatalf("bob's subscriber PC has %d senders while its offer is unanswered, want the camera's kept until the answer", n)
	}

	bob.answer(offered)
	next := bob.offer("the offer that ends the camera", nil)
	var mid string
	for _, m := range parseMedia(t, offered.Sdp) {
		if m.trackID == sid {
			mid = m.mid
		}
	}
	for _, m := range parseMedia(t, next.Sdp) {
		if m.mid == mid && m.direction != "inactive" {
			t.Errorf("the camera's m-section (mid %s) is %s after the unsubscribe, want inactive", mid, m.direction)
		}
	}
	if got := sending(t, next.Sdp); len(got) != 0 {
		t.Errorf("the offer after the unsubscribe still sends %q:\n%s", got, next.Sdp)
	}
	bob.answer(next)
	bob.sync()
	if n := subscriberSenders(t, srv, "r", "bob"); n != 0 {
		t.Errorf("bob's subscriber PC has %d senders after the removal was negotiated, want 0", n)
	}

	// Subscribing again works: a new m-section, media flows.
	bob.subscribe(sid, true)
	again := bob.offer("the offer with the camera again", func(s string) bool { return sends(t, s, sid) })
	bob.answer(again)
	eventually(t, 5*time.Second, "bob to receive the camera again", func() bool { return bob.packets(sid) > 5 })
	if n := downTracks(t, srv, "r", "alice", sid); n != 1 {
		t.Errorf("the camera has %d DownTracks after bob subscribed again, want 1", n)
	}
	bob.sync() // still in the room
}

// TestUnpublishWhileOfferInFlight: the server-side unpublish of TestServerMuteAndRemove,
// made deterministic: the track goes while the subscriber's offer for it is unanswered.
func TestUnpublishWhileOfferInFlight(t *testing.T) {
	srv := sfutest.Serve(t)
	bob := newRawSubscriber(t, srv, "r", "bob")
	bob.answer(bob.offer("the first offer", nil))
	bob.connected()

	dave := join(t, srv, "r", "dave", nil)
	cam := publishSynth(t, dave, vp8Cap, "cam")
	sid := cam.pub.SID()
	offered := bob.offer("the offer with dave's camera", func(s string) bool { return sends(t, s, sid) })
	if err := srv.UnpublishTrack("r", "dave", sid); err != nil {
		t.Fatal(err)
	}
	if n := subscriberSenders(t, srv, "r", "bob"); n != 1 {
		t.Fatalf("bob's subscriber PC has %d senders while its offer is unanswered, want the camera's kept until the answer", n)
	}
	bob.answer(offered)
	next := bob.offer("the offer that ends the camera", nil)
	if got := sending(t, next.Sdp); len(got) != 0 {
		t.Errorf("the offer after the unpublish still sends %v", got)
	}
	bob.answer(next)
	bob.sync()
	if n := subscriberSenders(t, srv, "r", "bob"); n != 0 {
		t.Errorf("bob's subscriber PC has %d senders after the unpublish was negotiated, want 0", n)
	}

	// dave publishes again; bob gets it.
	again := publishSynth(t, dave, vp8Cap, "cam2")
	bob.answer(bob.offer("the offer with the new camera", func(s string) bool { return sends(t, s, again.pub.SID()) }))
	eventually(t, 5*time.Second, "bob to receive the new camera", func() bool { return bob.packets(again.pub.SID()) > 5 })
}

// TestResumeWhileOfferInFlight: the signal connection drops after the server sent an offer
// and before its answer arrived (the answer is lost with the connection). pion cannot set a
// new local offer over one in flight ("have-local-offer"), so the ICE-restart offer of the
// resume failed and ended the participant. The resumed session must get a new offer, ignore
// the late answer to the abandoned one, and carry on.
func TestResumeWhileOfferInFlight(t *testing.T) {
	srv := sfutest.Serve(t)
	bob := newRawSubscriber(t, srv, "r", "bob")
	first := bob.offer("the first offer", nil)
	bob.answer(first)
	bob.connected()

	alice := join(t, srv, "r", "alice", nil)
	cam := publishSynth(t, alice, vp8Cap, "cam")
	sid := cam.pub.SID()
	lostOffer := bob.offer("the offer with alice's camera", func(s string) bool { return sends(t, s, sid) })
	lostAnswer := bob.apply(lostOffer) // answered, but the answer never reaches the server
	bob.dropSignal()
	bob.resume()

	restart := bob.offer("the offer after the resume", nil)
	if restart.Id <= lostOffer.Id {
		t.Errorf("offer id after the resume = %d, want more than the abandoned offer's %d", restart.Id, lostOffer.Id)
	}
	if iceUfrag(restart.Sdp) == iceUfrag(first.Sdp) {
		t.Errorf("the offer after the resume keeps ice-ufrag %q: want an ICE restart", iceUfrag(first.Sdp))
	}
	if !sends(t, restart.Sdp, sid) {
		t.Errorf("the offer after the resume does not send the camera: sends %v", sending(t, restart.Sdp))
	}
	bob.sendAnswer(lostAnswer) // late: the server must ignore it, not fail the session
	bob.answer(restart)
	eventually(t, 10*time.Second, "bob to receive the camera after the resume", func() bool { return bob.packets(sid) > 5 })
	bob.sync()
}

// TestUnpublishRacesAnswer: tracks unpublished (on the server's initiative, from another
// goroutine) at the moment the subscriber's answer for them arrives. Whatever the
// interleaving, the subscriber stays, loses each track and receives the next one.
func TestUnpublishRacesAnswer(t *testing.T) {
	srv := sfutest.Serve(t)
	bob := newRawSubscriber(t, srv, "r", "bob")
	bob.answer(bob.offer("the first offer", nil))
	bob.connected()
	alice := join(t, srv, "r", "alice", nil)

	for i := range 5 {
		cam := publishSynth(t, alice, vp8Cap, fmt.Sprintf("cam%d", i))
		sid := cam.pub.SID()
		offered := bob.offer("the offer with "+sid, func(s string) bool { return sends(t, s, sid) })
		unpublished := make(chan error, 1)
		go func() { unpublished <- srv.UnpublishTrack("r", "alice", sid) }()
		bob.answer(offered)
		if err := <-unpublished; err != nil {
			t.Fatal(err)
		}
		// Answer offers until one no longer sends the camera.
		o := bob.offer("an offer after the unpublish", nil)
		for sends(t, o.Sdp, sid) {
			bob.answer(o)
			o = bob.offer("the offer that ends "+sid, nil)
		}
		bob.answer(o)
	}
	bob.sync()
	eventually(t, 5*time.Second, "bob's senders to be gone", func() bool { return subscriberSenders(t, srv, "r", "bob") == 0 })

	last := publishSynth(t, alice, vp8Cap, "last")
	bob.answer(bob.offer("the offer with the last camera", func(s string) bool { return sends(t, s, last.pub.SID()) }))
	eventually(t, 5*time.Second, "bob to receive the last camera", func() bool { return bob.packets(last.pub.SID()) > 5 })
}
