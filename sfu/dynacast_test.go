package sfu_test

import (
	"context"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	pmedia "github.com/pion/webrtc/v4/pkg/media"

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

// TestDynacastSDKStopsLayers: with a server-sdk-go simulcast publisher fed by
// SampleProviders (the SDK then honours dynacast), disabling the track at its only
// subscriber stops the publisher's packets; enabling it brings them back with a keyframe
// well before the publisher's own next one, and the subscriber is never told the stream
// paused (it disabled it itself, then the layers were asked back).
func TestDynacastSDKStopsLayers(t *testing.T) {
	const pauseDelay = 500 * time.Millisecond
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Room.DynacastPauseDelay = pauseDelay }))
	pubTap, subTap := newSignalTap(t, srv), newSignalTap(t, srv)
	alice := pubTap.join(srv, "r", "alice", nil)
	sub := newSubscriber()
	bob := subTap.join(srv, "r", "bob", sub.callback())
	pub := publishSimulcastProviders(t, alice, [3][2]int{{160, 120}, {320, 240}, {640, 480}})
	sid := pub.SID()
	eventually(t, 5*time.Second, "bob to receive the simulcast track", func() bool {
		r, ok := sub.get(sid)
		return ok && r.keyframes > 0
	})
	rp := remotePub(bob, "alice", sid)
	if rp == nil {
		t.Fatal("bob has no publication for the simulcast track")
	}
	isUpdate := func(r *livekit.SignalResponse) bool {
		u := r.GetSubscribedQualityUpdate()
		return u != nil && u.TrackSid == sid
	}

	mark := pubTap.mark()
	rp.SetEnabled(false)
	res := pubTap.waitFrom(mark, pauseDelay+3*time.Second, "an update turning every layer off", isUpdate)
	checkQualities(t, res.GetSubscribedQualityUpdate(), [3]bool{false, false, false})
	time.Sleep(300 * time.Millisecond) // packets in flight
	before := packetsIn(t, srv)
	time.Sleep(700 * time.Millisecond)
	if after := packetsIn(t, srv); after != before {
		t.Fatalf("publisher still sending after every layer was turned off: %v -> %v packets", before, after)
	}

	r0, _ := sub.get(sid)
	mark = pubTap.mark()
	enabledAt := time.Now()
	rp.SetEnabled(true)
	res = pubTap.waitFrom(mark, 2*time.Second, "an update turning every layer on", isUpdate)
	checkQualities(t, res.GetSubscribedQualityUpdate(), [3]bool{true, true, true})
	eventually(t, 3*time.Second, "a keyframe after the layers came back", func() bool {
		r, _ := sub.get(sid)
		return r.keyframes > r0.keyframes
	})
	t.Logf("first keyframe %s after re-enabling", time.Since(enabledAt).Round(time.Millisecond))
	time.Sleep(time.Second)
	for _, r := range subTap.all(0, func(r *livekit.SignalResponse) bool { return r.GetStreamStateUpdate() != nil }) {
		t.Errorf("bob was sent a stream state: %v", r.GetStreamStateUpdate())
	}
}

// packetsIn reads the server's count of RTP packets received from publishers.
func packetsIn(t *testing.T, srv *sfutest.Server) float64 {
	t.Helper()
	mfs, err := srv.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "atrium_sfu_media_packets_in_total" {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatal("no atrium_sfu_media_packets_in_total metric")
	return 0
}

// vp8Provider feeds one simulcast layer through the SDK's own writer (LocalTrack.StartWrite),
// which skips samples while the layer is disabled by dynacast. Keyframes come every 10 s, or
// on request, so a test can tell requested keyframes from periodic ones.
type vp8Provider struct {
	lksdk.BaseSampleProvider
	width, height int
	n             int
	keyReq        atomic.Bool
	stop          chan struct{}
}

func (p *vp8Provider) NextSample(ctx context.Context) (pmedia.Sample, error) {
	select {
	case <-p.stop:
		return pmedia.Sample{}, io.EOF
	case <-ctx.Done():
		return pmedia.Sample{}, io.EOF
	default:
	}
	key := p.n%300 == 0 || p.keyReq.Swap(false)
	p.n++
	return pmedia.Sample{Data: vp8Frame(key, p.width, p.height, byte(p.n)), Duration: 33 * time.Millisecond}, nil
}

// publishSimulcastProviders publishes a three-layer VP8 track fed by vp8Providers until the
// test ends.
func publishSimulcastProviders(t *testing.T, room *lksdk.Room, dims [3][2]int) *lksdk.LocalTrackPublication {
	t.Helper()
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	var tracks []*lksdk.LocalTrack
	for i, q := range []livekit.VideoQuality{livekit.VideoQuality_LOW, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_HIGH} {
		prov := &vp8Provider{width: dims[i][0], height: dims[i][1], stop: stop}
		tr, err := lksdk.NewLocalSampleTrack(vp8Cap,
			lksdk.WithSimulcast("simp", &livekit.VideoLayer{Quality: q, Width: uint32(dims[i][0]), Height: uint32(dims[i][1])}),
			lksdk.WithRTCPHandler(func(pkt rtcp.Packet) {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					prov.keyReq.Store(true)
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		if err := tr.StartWrite(prov, nil); err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	pub, err := room.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{
		Name: "simp", Source: livekit.TrackSource_CAMERA, VideoWidth: dims[2][0], VideoHeight: dims[2][1]})
	if err != nil {
		t.Fatalf("PublishSimulcastTrack: %v", err)
	}
	return pub
}
