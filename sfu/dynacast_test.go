package sfu_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestDynacast: a three-layer simulcast publisher (server-sdk-go, its signal recorded by a
// tap) is told to stop HIGH and MEDIUM only after every subscriber set LOW and the pause
// delay passed, to send them again at once when one subscriber asks for HIGH (which then
// receives HIGH keyframes), and to stop everything when nobody wants the track.
func TestDynacast(t *testing.T) {
	const pauseDelay = 1500 * time.Millisecond
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Room.DynacastPauseDelay = pauseDelay }))
	tap := newSignalTap(t, srv)
	alice := tap.join(srv, "r", "alice", nil)
	subB, subC := newSubscriber(), newSubscriber()
	bob := join(t, srv, "r", "bob", subB.callback())
	carol := join(t, srv, "r", "carol", subC.callback())
	dims := [3][2]int{{160, 120}, {320, 240}, {640, 480}}
	sim := publishSimulcast(t, alice, dims)
	sid := sim.pub.SID()
	for _, s := range []*subscriber{subB, subC} {
		eventually(t, 5*time.Second, "both subscribers to receive the simulcast track", func() bool {
			r, ok := s.get(sid)
			return ok && r.keyframes > 0
		})
	}
	pubB, pubC := remotePub(bob, "alice", sid), remotePub(carol, "alice", sid)
	if pubB == nil || pubC == nil {
		t.Fatal("a subscriber has no publication for the simulcast track")
	}
	isUpdate := func(r *livekit.SignalResponse) bool {
		u := r.GetSubscribedQualityUpdate()
		return u != nil && u.TrackSid == sid
	}

	// One subscriber at LOW changes nothing: the other still wants HIGH.
	mark := tap.mark()
	if err := pubB.SetVideoQuality(livekit.VideoQuality_LOW); err != nil {
		t.Fatal(err)
	}
	time.Sleep(pauseDelay + 500*time.Millisecond)
	if got := tap.all(mark, isUpdate); len(got) > 0 {
		t.Fatalf("update while carol still wants HIGH: %v", got[0].GetSubscribedQualityUpdate())
	}

	// Everyone at LOW: HIGH and MEDIUM off, after the pause delay.
	mark = tap.mark()
	lowAt := time.Now()
	if err := pubC.SetVideoQuality(livekit.VideoQuality_LOW); err != nil {
		t.Fatal(err)
	}
	res := tap.waitFrom(mark, pauseDelay+3*time.Second, "an update turning HIGH and MEDIUM off", isUpdate)
	if waited := time.Since(lowAt); waited < pauseDelay-200*time.Millisecond {
		t.Errorf("downgrade sent after %s, want it debounced by about %s", waited, pauseDelay)
	}
	checkQualities(t, res.GetSubscribedQualityUpdate(), [3]bool{true, false, false})

	// One subscriber back to HIGH: every layer on at once, and it gets HIGH again.
	mark = tap.mark()
	highAt := time.Now()
	if err := pubB.SetVideoQuality(livekit.VideoQuality_HIGH); err != nil {
		t.Fatal(err)
	}
	res = tap.waitFrom(mark, 2*time.Second, "an update turning every layer on", isUpdate)
	if waited := time.Since(highAt); waited > pauseDelay/2 {
		t.Errorf("upgrade sent after %s, want it at once", waited)
	}
	checkQualities(t, res.GetSubscribedQualityUpdate(), [3]bool{true, true, true})
	eventually(t, 3*time.Second, "bob to receive HIGH keyframes", func() bool {
		r, _ := subB.get(sid)
		return r.keyWidth == dims[2][0]
	})

	// Nobody wants it (bob disables it, carol unsubscribes): everything off.
	mark = tap.mark()
	pubB.SetEnabled(false)
	if err := pubC.SetSubscribed(false); err != nil {
		t.Fatal(err)
	}
	res = tap.waitFrom(mark, pauseDelay+3*time.Second, "an update turning every layer off", func(r *livekit.SignalResponse) bool {
		if !isUpdate(r) {
			return false
		}
		for _, q := range r.GetSubscribedQualityUpdate().SubscribedQualities {
			if q.Enabled {
				return false
			}
		}
		return true
	})
	checkQualities(t, res.GetSubscribedQualityUpdate(), [3]bool{false, false, false})
}

// checkQualities checks both forms of the update (subscribed_qualities for older SDKs and
// subscribed_codecs under the published codec) against want (LOW, MEDIUM, HIGH).
func checkQualities(t *testing.T, u *livekit.SubscribedQualityUpdate, want [3]bool) {
	t.Helper()
	check := func(where string, qs []*livekit.SubscribedQuality) {
		got := map[livekit.VideoQuality]bool{}
		for _, q := range qs {
			got[q.Quality] = q.Enabled
		}
		for i, q := range []livekit.VideoQuality{livekit.VideoQuality_LOW, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_HIGH} {
			if e, ok := got[q]; !ok || e != want[i] {
				t.Errorf("%s: %s enabled = %v (present %v), want %v", where, q, e, ok, want[i])
			}
		}
	}
	check("subscribed_qualities", u.SubscribedQualities)
	if len(u.SubscribedCodecs) != 1 || u.SubscribedCodecs[0].Codec != "vp8" {
		t.Fatalf("subscribed_codecs = %v, want one entry for vp8", u.SubscribedCodecs)
	}
	check("subscribed_codecs[vp8]", u.SubscribedCodecs[0].Qualities)
}
