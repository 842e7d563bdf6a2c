package sfu_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestStreamState: a subscriber (server-sdk-go, its signal recorded by a tap) is told a
// video track is PAUSED when its publisher mutes it and ACTIVE when it unmutes, and PAUSED
// again when the publisher stops sending altogether.
func TestStreamState(t *testing.T) {
	srv := sfutest.Serve(t)
	tap := newSignalTap(t, srv)
	alice := join(t, srv, "r", "alice", nil)
	sub := newSubscriber()
	tap.join(srv, "r", "bob", sub.callback())
	cam := publishSynth(t, alice, vp8Cap, "cam")
	sid := cam.pub.SID()
	eventually(t, 5*time.Second, "bob to receive the camera", func() bool {
		r, ok := sub.get(sid)
		return ok && r.keyframes > 0
	})
	stateOf := func(r *livekit.SignalResponse) (livekit.StreamState, bool) {
		for _, s := range r.GetStreamStateUpdate().GetStreamStates() {
			if s.TrackSid == sid {
				if s.ParticipantSid != alice.LocalParticipant.SID() {
					t.Errorf("stream state names participant %s, want %s", s.ParticipantSid, alice.LocalParticipant.SID())
				}
				return s.State, true
			}
		}
		return 0, false
	}
	wantState := func(mark int, want livekit.StreamState, timeout time.Duration) {
		t.Helper()
		tap.waitFrom(mark, timeout, "stream state "+want.String(), func(r *livekit.SignalResponse) bool {
			st, ok := stateOf(r)
			return ok && st == want
		})
	}
	if got := tap.all(0, func(r *livekit.SignalResponse) bool { _, ok := stateOf(r); return ok }); len(got) > 0 {
		t.Fatalf("stream state sent while the track flows normally: %v", got[0].GetStreamStateUpdate())
	}

	for _, muted := range []bool{true, false} {
		mark := tap.mark()
		cam.pub.SetMuted(muted)
		want := livekit.StreamState_ACTIVE
		if muted {
			want = livekit.StreamState_PAUSED
		}
		wantState(mark, want, 2*time.Second)
		// Exactly one change each way.
		time.Sleep(600 * time.Millisecond)
		n := len(tap.all(mark, func(r *livekit.SignalResponse) bool { _, ok := stateOf(r); return ok }))
		if n != 1 {
			t.Errorf("muted=%v: %d stream state updates, want 1", muted, n)
		}
	}

	// The publisher stops sending without muting: no layer left to forward.
	mark := tap.mark()
	cam.close()
	wantState(mark, livekit.StreamState_PAUSED, 3*time.Second)
}
