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

// TestRecordSyntheticClass is acceptance check 1 of issue 11: a server-sdk-go publisher
// with synthetic H.264 and Opus, recorded for 20 s through a real SFU into versitygw. The
// live playlist appears while recording; the VOD is H.264 + AAC, 20 ± 2 s long, with no
// missing segment numbers, and objects carry the content types players expect.
func TestRecordSyntheticClass(t *testing.T) {
	srv := sfutest.Serve(t)
	s3 := s3test.Serve(t)
	pub := publish(t, srv, "class-1", "teacher")
	rec := newRecorder(t, srv, s3)
	job := recorder.Job{ID: "EG_test1", Room: "class-1", Teacher: "teacher"}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	type out struct {
		res recorder.Result
		err error
	}
	done := make(chan out, 1)
	firstSeg := make(chan time.Time, 1)
	go func() {
		r, err := rec.Record(ctx, job, nil, stop, func(recorder.Segment) {
			select {
			case firstSeg <- time.Now():
			default:
			}
		})
		done <- out{r, err}
	}()
	var started time.Time
	select {
	case started = <-firstSeg:
	case o := <-done:
		t.Fatalf("Record ended before a segment: %v", o.err)
	case <-time.After(30 * time.Second):
		t.Fatal("no segment within 30 s")
	}
	// The recorder is hidden: the teacher's SDK does not list it.
	for _, p := range pub.room.GetRemoteParticipants() {
		if strings.HasPrefix(p.Identity(), "recorder-") {
			t.Errorf("the teacher sees the recorder %s", p.Identity())
		}
	}
	// The live playlist is in storage while recording, without EXT-X-ENDLIST.
	live, err := rec.Store().Get(ctx, job.PlaylistKey())
	if err != nil {
		t.Fatalf("live playlist: %v", err)
	}
	if strings.Contains(string(live), "#EXT-X-ENDLIST") || !strings.Contains(string(live), "seg_00000.m4s") {
		t.Fatalf("live playlist:\n%s", live)
	}
	// The first segment is stored about one segment (2 s) after capture began.
	time.Sleep(time.Until(started.Add(17 * time.Second)))
	close(stop)
	o := <-done
	if o.err != nil {
		t.Fatalf("Record: %v", o.err)
	}
	if !o.res.Finished {
		t.Fatal("Record did not finish the VOD playlist")
	}

	v := fetchVOD(t, rec, job)
	if !strings.HasSuffix(v.playlist, "#EXT-X-ENDLIST\n") {
		t.Fatalf("VOD playlist does not end with EXT-X-ENDLIST:\n%s", v.playlist)
	}
	checkSeqs(t, v.segs)
	if len(v.segs) != len(o.res.Segments) {
		t.Errorf("playlist names %d segments, Record reports %d", len(v.segs), len(o.res.Segments))
	}
	p := ffprobe(t, v.file)
	if got := p.codecs(); got != "video:h264,audio:aac" {
		t.Errorf("streams = %s, want video:h264,audio:aac", got)
	}
	if d := p.duration(); d < 18 || d > 22 {
		t.Errorf("duration = %.2f s, want 20 ± 2", d)
	}
	if d := o.res.Duration().Seconds(); d < 18 || d > 22 {
		t.Errorf("sum of EXTINF = %.2f s, want 20 ± 2", d)
	}
	for _, c := range []struct{ key, ct string }{
		{job.PlaylistKey(), recorder.PlaylistContentType},
		{"recordings/EG_test1/seg_00000.m4s", recorder.SegmentContentType},
		{"recordings/EG_test1/init_0.mp4", recorder.InitContentType},
	} {
		ct, _, err := rec.Store().Stat(ctx, c.key)
		if err != nil || ct != c.ct {
			t.Errorf("Stat(%s) = %q, %v; want %q", c.key, ct, err, c.ct)
		}
	}
	t.Logf("recorded %d segments, %.2f s (ffprobe), streams %s", len(v.segs), p.duration(), p.codecs())
}
