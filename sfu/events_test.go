package sfu_test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestJoinLeaveEvents: others learn of joins and leaves; hidden participants stay unseen.
func TestJoinLeaveEvents(t *testing.T) {
	srv := sfutest.Serve(t)
	connected := make(chan string, 8)
	disconnected := make(chan string, 8)
	join(t, srv, "r", "alice", &lksdk.RoomCallback{
		OnParticipantConnected:    func(p *lksdk.RemoteParticipant) { connected <- p.Identity() },
		OnParticipantDisconnected: func(p *lksdk.RemoteParticipant) { disconnected <- p.Identity() },
	})
	expect := func(ch chan string, want, what string) {
		t.Helper()
		select {
		case got := <-ch:
			if got != want {
				t.Fatalf("%s: got %q, want %q", what, got, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: nothing for %q", what, want)
		}
	}
	recorder, err := tryJoin(srv, "r", "recorder", nil, true, sfutest.Hidden())
	if err != nil {
		t.Fatal(err)
	}
	bob, err := tryJoin(srv, "r", "bob", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	expect(connected, "bob", "join")
	if len(bob.GetRemoteParticipants()) != 1 {
		t.Errorf("bob sees %d participants, want only alice (recorder is hidden)", len(bob.GetRemoteParticipants()))
	}
	bob.Disconnect()
	expect(disconnected, "bob", "leave")
	recorder.Disconnect()
	select {
	case id := <-connected:
		t.Errorf("alice saw %q connect; hidden participants must not be announced", id)
	case id := <-disconnected:
		t.Errorf("alice saw %q disconnect; hidden participants must not be announced", id)
	case <-time.After(300 * time.Millisecond):
	}
}

// TestHiddenSubscriber: a hidden participant (a recorder) receives media though nobody sees it.
func TestHiddenSubscriber(t *testing.T) {
	srv := sfutest.Serve(t)
	alice := join(t, srv, "r", "alice", nil)
	rec := newSubscriber()
	join(t, srv, "r", "recorder", rec.callback(), sfutest.Hidden(), sfutest.CanPublish(false))
	cam := publishSynth(t, alice, h264Cap, "cam")
	eventually(t, 5*time.Second, "the recorder to receive H.264", func() bool {
		r, ok := rec.get(cam.pub.SID())
		return ok && r.packets > 10 && r.keyframes > 0
	})
	if n := len(alice.GetRemoteParticipants()); n != 0 {
		t.Errorf("alice sees %d participants, want 0 (the recorder is hidden)", n)
	}
}
