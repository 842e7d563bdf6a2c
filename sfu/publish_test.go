package sfu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestPublishSubscribe publishes Opus with VP8 or H.264 from synthetic frames and checks an
// early subscriber receives both, and a late joiner gets a keyframe within 1 s of subscribing.
func TestPublishSubscribe(t *testing.T) {
	for _, video := range []webrtc.RTPCodecCapability{vp8Cap, h264Cap} {
		t.Run(strings.TrimPrefix(video.MimeType, "video/"), func(t *testing.T) {
			srv := sfutest.Serve(t)
			early := newSubscriber()
			alice := join(t, srv, "r", "alice", nil)
			join(t, srv, "r", "bob", early.callback())

			audio := publishSynth(t, alice, opusCap, "mic")
			vid := publishSynth(t, alice, video, "cam")
			wantStream := func(sid string) string { return alice.LocalParticipant.SID() + "|" + sid }

			for _, p := range []*synthPublisher{audio, vid} {
				sid := p.pub.SID()
				eventually(t, 5*time.Second, "bob to receive "+sid, func() bool {
					r, ok := early.get(sid)
					return ok && r.packets >= 20
				})
				r, _ := early.get(sid)
				if !strings.EqualFold(r.mime, p.track.Codec().MimeType) {
					t.Errorf("bob got %s for %s, want %s", r.mime, sid, p.track.Codec().MimeType)
				}
				if r.streamID != wantStream(sid) || r.trackID != sid {
					t.Errorf("bob's track ids = %q/%q, want stream %q track %q", r.streamID, r.trackID, wantStream(sid), sid)
				}
			}
			if r, _ := early.get(vid.pub.SID()); r.keyframes == 0 {
				t.Errorf("bob got no keyframe among %d video packets", r.packets)
			}

			// Late joiner: media has flowed for a while; the next periodic keyframe is up to
			// 2 s away, so a keyframe within 1 s proves the SFU asked the publisher for one.
			time.Sleep(700 * time.Millisecond)
			late := newSubscriber()
			start := time.Now()
			plisBefore := vid.plis.Load()
			join(t, srv, "r", "carol", late.callback())
			eventually(t, 5*time.Second, "carol's first video keyframe", func() bool {
				r, ok := late.get(vid.pub.SID())
				return ok && !r.firstKey.IsZero()
			})
			r, _ := late.get(vid.pub.SID())
			if d := r.firstKey.Sub(r.firstAt); d > time.Second {
				t.Errorf("late joiner's first keyframe came %s after its first packet, want <= 1s", d)
			}
			t.Logf("join time (WS open -> first media packet): %s; first keyframe after %s",
				r.firstAt.Sub(start).Round(time.Millisecond), r.firstKey.Sub(start).Round(time.Millisecond))
			if vid.plis.Load() == plisBefore {
				t.Errorf("publisher got no keyframe request when carol subscribed")
			}
		})
	}
}
