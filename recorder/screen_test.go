package recorder_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestScreenShareSwitches is the picture half of acceptance check 3 of issue 11: a screen
// shared mid-recording replaces the camera in the recording while it is published, and the
// camera comes back when it stops. Each switch starts a new muxer: the playlist has one
// discontinuity per switch, three init segments, continuous segment numbers, and the middle
// stretch is the 1920x1080 screen while the others are the 1280x720 camera.
func TestScreenShareSwitches(t *testing.T) {
	srv := sfutest.Serve(t)
	s3 := s3test.Serve(t)
	pub := publish(t, srv, "class-screen", "teacher")
	rec := newRecorder(t, srv, s3)
	job := recorder.Job{ID: "EG_screen", Room: "class-screen", Teacher: "teacher"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	segs := make(chan recorder.Segment, 100)
	done := make(chan error, 1)
	go func() {
		res, err := rec.Record(ctx, job, nil, stop, func(sg recorder.Segment) { segs <- sg })
		if err == nil && !res.Finished {
			t.Error("not finished")
		}
		done <- err
	}()
	// waitInit waits for n segments of the init segment named init.
	waitInit := func(init string, n int) {
		t.Helper()
		got := 0
		deadline := time.After(30 * time.Second)
		for got < n {
			select {
			case sg := <-segs:
				if sg.Init == init {
					got++
				}
			case err := <-done:
				t.Fatalf("Record ended: %v", err)
			case <-deadline:
				t.Fatalf("no %d segments of %s within 30 s", n, init)
			}
		}
	}
	waitInit("init_0.mp4", 2)
	unshare := pub.shareScreen(t)
	waitInit("init_1.mp4", 2)
	unshare()
	waitInit("init_2.mp4", 2)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("Record: %v", err)
	}
	v := fetchVOD(t, rec, job)
	checkSeqs(t, v.segs)
	if n := strings.Count(v.playlist, "#EXT-X-DISCONTINUITY\n"); n != 2 || len(v.epochs) != 3 {
		t.Fatalf("%d discontinuities and %d init segments, want 2 and 3:\n%s", n, len(v.epochs), v.playlist)
	}
	for i, want := range []int{720, 1080, 720} {
		p := ffprobe(t, v.epochs[i])
		if p.codecs() != "video:h264,audio:aac" {
			t.Errorf("stretch %d: streams %s", i, p.codecs())
		}
		if len(p.Streams) > 0 && p.Streams[0].Height != want {
			t.Errorf("stretch %d: height %d, want %d", i, p.Streams[0].Height, want)
		}
	}
}
