package recorder_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/bench/synth"
	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// simulcastLayers are what a browser publishes for a 720p camera.
var simulcastLayers = []struct {
	q       livekit.VideoQuality
	w, h    int
	bitrate int
}{
	{livekit.VideoQuality_LOW, 320, 180, 150_000},
	{livekit.VideoQuality_MEDIUM, 640, 360, 500_000},
	{livekit.VideoQuality_HIGH, 1280, 720, 1_500_000},
}

// publishSimulcast joins room as identity and publishes a camera as three synthetic H.264
// simulcast layers (the SPS of each carries its size). The top layer is sent only once
// topOn is closed, as a browser whose bandwidth estimate is still low sends only its lower
// layers.
func publishSimulcast(t *testing.T, srv *sfutest.Server, room, identity string, topOn <-chan struct{}) {
	t.Helper()
	r, err := lksdk.ConnectToRoomWithToken(srv.URL(), srv.Token(room, identity), lksdk.NewRoomCallback(),
		lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("publisher join: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var tracks []*lksdk.LocalTrack
	var gens []*synth.Video
	for _, l := range simulcastLayers {
		gen, err := synth.NewVideo(synth.VideoParams{Codec: "h264", Bitrate: l.bitrate, FPS: 30, Width: l.w,
			Height: l.h, KeyframeInterval: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		tr, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264,
			ClockRate:   synth.VideoClockRate,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
			lksdk.WithSimulcast("camera", &livekit.VideoLayer{Quality: l.q, Width: uint32(l.w), Height: uint32(l.h)}),
			lksdk.WithRTCPHandler(func(p rtcp.Packet) {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					gen.RequestKeyframe()
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		tracks, gens = append(tracks, tr), append(gens, gen)
	}
	if _, err := r.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "camera",
		Source: livekit.TrackSource_CAMERA, VideoWidth: 1280, VideoHeight: 720}); err != nil {
		t.Fatalf("PublishSimulcastTrack: %v", err)
	}
	done := make(chan struct{}, len(tracks))
	for i := range tracks {
		go func() {
			defer func() { done <- struct{}{} }()
			if i == len(tracks)-1 {
				select {
				case <-topOn:
					gens[i].RequestKeyframe()
				case <-ctx.Done():
					return
				}
			}
			sendVideo(ctx, tracks[i], gens[i])
		}()
	}
	t.Cleanup(func() {
		cancel()
		for range tracks {
			<-done
		}
		r.Disconnect()
	})
}

// TestRecordsTopSimulcastLayer (issue 11): a simulcast camera is recorded at its top layer.
// The SFU starts a subscriber on whichever layer's keyframe comes first, so the recorder
// asks for the top layer and its muxer waits for it; with all layers flowing, every stretch
// of the recording is 1280x720. When the top layer only starts mid-class (a browser's
// bandwidth estimate ramping up), the recording starts on a lower layer after the wait and
// switches to 1280x720, after a discontinuity, when the top layer arrives.
func TestRecordsTopSimulcastLayer(t *testing.T) {
	for _, c := range []struct {
		name    string
		topLate bool
	}{
		{"all layers from the start", false},
		{"top layer arrives late", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := sfutest.Serve(t)
			s3 := s3test.Serve(t)
			room := "class-simulcast-" + strings.ReplaceAll(c.name, " ", "-")
			topOn := make(chan struct{})
			if !c.topLate {
				close(topOn)
			}
			publishSimulcast(t, srv, room, "teacher", topOn)
			rec := newRecorder(t, srv, s3)
			job := recorder.Job{ID: "EG_simulcast", Room: room, Teacher: "teacher"}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			stop := make(chan struct{})
			segs := make(chan recorder.Segment, 100)
			done := make(chan error, 1)
			go func() {
				res, err := rec.Record(ctx, job, nil, stop, func(sg recorder.Segment) { segs <- sg })
				if err == nil && !res.Finished {
					err = fmt.Errorf("not finished")
				}
				done <- err
			}()
			// next waits for the next stored segment.
			next := func() recorder.Segment {
				t.Helper()
				select {
				case sg := <-segs:
					return sg
				case err := <-done:
					t.Fatalf("Record ended: %v", err)
				case <-time.After(45 * time.Second):
					t.Fatal("no segment within 45 s")
				}
				return recorder.Segment{}
			}
			first := next()
			if c.topLate {
				close(topOn)
				// Two segments of the stretch after the switch, within 15 segments.
				for n, i := 0, 0; n < 2; i++ {
					if i == 15 {
						t.Fatalf("no switch to another init segment within 15 segments")
					}
					if next().Init != first.Init {
						n++
					}
				}
			} else {
				next()
				next()
			}
			close(stop)
			if err := <-done; err != nil {
				t.Fatalf("Record: %v", err)
			}
			v := fetchVOD(t, rec, job)
			checkSeqs(t, v.segs)
			var widths []int
			for _, f := range v.epochs {
				p := ffprobe(t, f)
				if len(p.Streams) == 0 || p.Streams[0].CodecType != "video" {
					t.Fatalf("stretch %s: streams %s", f, p.codecs())
				}
				widths = append(widths, p.Streams[0].Width)
			}
			t.Logf("stretches' widths %v; playlist:\n%s", widths, v.playlist)
			last := widths[len(widths)-1]
			if last != 1280 {
				t.Errorf("the recording ends at width %d, want the top layer's 1280", last)
			}
			if !c.topLate {
				for i, w := range widths {
					if w != 1280 {
						t.Errorf("stretch %d is %d wide with every layer flowing, want 1280", i, w)
					}
				}
				return
			}
			if widths[0] == 1280 {
				t.Errorf("the recording started at 1280 before the top layer was sent")
			}
			if !strings.Contains(v.playlist, "#EXT-X-DISCONTINUITY\n") {
				t.Errorf("no discontinuity at the switch to the top layer")
			}
		})
	}
}
