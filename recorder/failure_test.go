package recorder_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/pkg/egress"
	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestStorageOutageLosesNothing is acceptance check 4 of issue 11: versitygw is stopped for
// 20 s in the middle of a recording; once it is back every segment is uploaded, the
// numbers have no hole and the VOD covers the whole class.
func TestStorageOutageLosesNothing(t *testing.T) {
	srv := sfutest.Serve(t)
	s3 := s3test.Serve(t)
	publish(t, srv, "class-outage", "teacher")
	rec := newRecorder(t, srv, s3)
	job := recorder.Job{ID: "EG_outage", Room: "class-outage"}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	first := make(chan struct{}, 1)
	type out struct {
		res recorder.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		r, err := rec.Record(ctx, job, nil, stop, func(recorder.Segment) {
			select {
			case first <- struct{}{}:
			default:
			}
		})
		done <- out{r, err}
	}()
	select {
	case <-first:
	case o := <-done:
		t.Fatalf("Record ended: %v", o.err)
	case <-time.After(30 * time.Second):
		t.Fatal("no segment within 30 s")
	}
	began := time.Now()
	s3.Stop()
	time.Sleep(20 * time.Second)
	s3.Start()
	time.Sleep(4 * time.Second)
	close(stop)
	recorded := time.Since(began).Seconds()
	o := <-done
	if o.err != nil || !o.res.Finished {
		t.Fatalf("Record = finished %v, %v", o.res.Finished, o.err)
	}
	if n := counterValue(t, rec, "atrium_recorder_upload_failures_total"); n == 0 {
		t.Error("no upload failed during the outage: the outage did not happen")
	}
	v := fetchVOD(t, rec, job)
	checkSeqs(t, v.segs)
	if !strings.HasSuffix(v.playlist, "#EXT-X-ENDLIST\n") {
		t.Fatalf("VOD playlist:\n%s", v.playlist)
	}
	p := ffprobe(t, v.file)
	// Everything from the first segment to the stop: the first segment, the outage's 20 s
	// and the 4 s after it.
	if d := p.duration(); d < recorded || d > recorded+4 {
		t.Errorf("duration %.2f s, want the %.2f s from the outage on to the stop plus the first segment", d, recorded)
	}
	t.Logf("%d segments, %.2f s, %v upload failures", len(v.segs), p.duration(),
		counterValue(t, rec, "atrium_recorder_upload_failures_total"))
}

// TestTakeoverAfterRecorderDies is acceptance check 5 of issue 11: recorder A records a job
// from the Redis store, then dies without a word (its context is cancelled: no lease
// release, no final upload). Recorder B claims the job once A's lease expires, continues the
// segment numbers after a discontinuity, the gap is reported in the job, and a stop
// request completes the VOD.
func TestTakeoverAfterRecorderDies(t *testing.T) {
	srv := sfutest.Serve(t)
	s3 := s3test.Serve(t)
	publish(t, srv, "class-takeover", "teacher")
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	t.Cleanup(func() { _ = rdb.Close() })
	store := egress.NewStore(rdb, "test:rec:"+randHex())
	lease := 2 * time.Second
	recA := newRecorder(t, srv, s3, func(c *recorder.Config) { c.ID = "rec-A"; c.LeaseTTL = lease })
	recB := newRecorder(t, srv, s3, func(c *recorder.Config) { c.ID = "rec-B"; c.LeaseTTL = lease })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ctxA, killA := context.WithCancel(ctx)
	doneA := make(chan error, 1)
	go func() { doneA <- recA.Run(ctxA, store) }()
	if err := store.Create(ctx, egress.Job{ID: "EG_takeover", Room: "class-takeover", Teacher: "teacher"}); err != nil {
		t.Fatal(err)
	}
	j := waitJob(t, store, "EG_takeover", 40*time.Second, func(j egress.Job) bool {
		return j.Holder == "rec-A" && j.Segments >= 3
	})
	killA()
	<-doneA
	killedAt := time.Now()
	segsA := j.Segments

	ctxB, stopB := context.WithCancel(ctx)
	doneB := make(chan error, 1)
	go func() { doneB <- recB.Run(ctxB, store) }()
	defer func() { stopB(); <-doneB }()
	j = waitJob(t, store, "EG_takeover", 40*time.Second, func(j egress.Job) bool {
		return j.Holder == "rec-B" && j.Segments > segsA+2
	})
	if j.Takeovers != 1 || len(j.Gaps) != 1 {
		t.Fatalf("job after takeover: takeovers %d, gaps %v; want 1 and one gap", j.Takeovers, j.Gaps)
	}
	// Lease expiry (2 s) + join + first keyframe + one segment: "within seconds".
	if g := j.Gaps[0].Seconds; g <= 0 || g > 10 {
		t.Errorf("reported gap %.2f s, want (0, 10]", g)
	}
	t.Logf("B took over %v after A died; reported gap %.2f s after seq %d",
		time.Since(killedAt).Round(time.Millisecond), j.Gaps[0].Seconds, j.Gaps[0].AfterSeq)

	if _, err := store.RequestStop(ctx, "EG_takeover"); err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, store, "EG_takeover", 60*time.Second, func(j egress.Job) bool {
		return j.State == egress.StateComplete || j.State == egress.StateFailed
	})
	if j.State != egress.StateComplete {
		t.Fatalf("job ended %s: %s", j.State, j.Error)
	}
	v := fetchVOD(t, recB, recorder.Job{ID: "EG_takeover"})
	checkSeqs(t, v.segs)
	if n := strings.Count(v.playlist, "#EXT-X-DISCONTINUITY\n"); n != 1 {
		t.Errorf("%d discontinuities, want 1:\n%s", n, v.playlist)
	}
	if !strings.Contains(v.playlist, `#EXT-X-MAP:URI="init_1.mp4"`) || !strings.HasSuffix(v.playlist, "#EXT-X-ENDLIST\n") {
		t.Errorf("VOD playlist:\n%s", v.playlist)
	}
	if len(v.segs) != j.Segments {
		t.Errorf("playlist has %d segments, job says %d", len(v.segs), j.Segments)
	}
	if p := ffprobe(t, v.file); p.codecs() != "video:h264,audio:aac" {
		t.Errorf("first epoch streams %s", p.codecs())
	}
}

func waitJob(t *testing.T, st *egress.Store, id string, within time.Duration, ok func(egress.Job) bool) egress.Job {
	t.Helper()
	deadline := time.Now().Add(within)
	var j egress.Job
	var err error
	for time.Now().Before(deadline) {
		j, err = st.Get(context.Background(), id)
		if err == nil && ok(j) {
			return j
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("job %s not as expected within %v: %+v (err %v)", id, within, j, err)
	return j
}

func randHex() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
