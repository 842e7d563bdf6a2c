package recorder_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/bench/procstat"
	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// BenchmarkRecordRoom measures what one recorded room costs: a synthetic 720p H.264 class
// at 1.5 Mbit/s with Opus audio, recorded (video copied, audio to AAC) for
// ATRIUM_BENCH_SECONDS (default 30) after the first segment. It reports ffmpeg's CPU in
// cores and RSS, the whole test process's CPU with the recorder and, measured first for
// the same span, without it (the SFU and the publisher live in this process too; the
// difference is the recorder's Go side), and the delay from a segment's last media to its
// upload. Run it alone: go test -run '^$' -bench RecordRoom -benchtime 1x ./recorder
func BenchmarkRecordRoom(b *testing.B) {
	secs := 30
	if v, err := strconv.Atoi(os.Getenv("ATRIUM_BENCH_SECONDS")); err == nil && v > 0 {
		secs = v
	}
	span := time.Duration(secs) * time.Second
	srv := sfutest.Serve(b)
	s3 := s3test.Serve(b)
	publish(b, srv, "class-bench", "teacher")
	rec := newRecorder(b, srv, s3)
	self := os.Getpid()

	time.Sleep(3 * time.Second) // publisher settles
	p0, _ := procstat.Read(self)
	time.Sleep(span)
	p1, _ := procstat.Read(self)
	without := (p1.CPU - p0.CPU).Seconds() / span.Seconds()

	ctx, cancel := context.WithTimeout(context.Background(), span+2*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	first := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		_, err := rec.Record(ctx, recorder.Job{ID: "EG_bench", Room: "class-bench"}, nil, stop, func(recorder.Segment) {
			select {
			case first <- struct{}{}:
			default:
			}
		})
		done <- err
	}()
	select {
	case <-first:
	case err := <-done:
		b.Fatalf("Record: %v", err)
	}
	ff := ffmpegChild(b, self)
	b.ResetTimer()
	f0, _ := procstat.Read(ff)
	r0, _ := procstat.Read(self)
	time.Sleep(span)
	f1, err := procstat.Read(ff)
	if err != nil {
		b.Fatal(err)
	}
	r1, _ := procstat.Read(self)
	b.StopTimer()
	close(stop)
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	with := (r1.CPU - r0.CPU).Seconds() / span.Seconds()
	b.ReportMetric((f1.CPU-f0.CPU).Seconds()/span.Seconds(), "ffmpeg-cores")
	b.ReportMetric(float64(f1.RSS)/(1<<20), "ffmpeg-RSS-MiB")
	b.ReportMetric(with-without, "recorder-go-cores")
	b.ReportMetric(with, "process-cores")
	b.ReportMetric(without, "process-cores-without-recorder")
	mfs, _ := rec.Registry().Gather()
	for _, mf := range mfs {
		if mf.GetName() == "atrium_recorder_segment_upload_delay_seconds" {
			h := mf.GetMetric()[0].GetHistogram()
			b.ReportMetric(h.GetSampleSum()/float64(h.GetSampleCount()), "upload-delay-mean-s")
		}
	}
}

// ffmpegChild finds the ffmpeg process started by pid.
func ffmpegChild(b *testing.B, pid int) int {
	b.Helper()
	ents, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, e := range ents {
		raw, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		s := string(raw)
		open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || close < 0 || s[open+1:close] != "ffmpeg" {
			continue
		}
		f := strings.Fields(s[close+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			n, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
			return n
		}
	}
	b.Fatal("no ffmpeg child found")
	return 0
}
