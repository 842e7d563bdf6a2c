package recorder_test

import (
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"

	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestTwoSpeakersBothAudible is the audio half of acceptance check 3 of issue 11: the
// teacher (camera and a 440 Hz tone) speaks first, then stops; a student (audio only,
// 880 Hz) speaks after. Both stretches of the recording have energy (ffmpeg volumedetect),
// so both speakers are mixed in, and each one's own tone dominates their stretch.
func TestTwoSpeakersBothAudible(t *testing.T) {
	srv := sfutest.Serve(t)
	s3 := s3test.Serve(t)
	dir := t.TempDir()
	toneA, toneB := opusTone(t, dir, 440), opusTone(t, dir, 880)
	publish(t, srv, "class-mix", "teacher", withoutAudio())
	rec := newRecorder(t, srv, s3)
	job := recorder.Job{ID: "EG_mix", Room: "class-mix", Teacher: "teacher"}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	stop := make(chan struct{})
	first := make(chan time.Time, 1)
	done := make(chan error, 1)
	go func() {
		res, err := rec.Record(ctx, job, nil, stop, func(sg recorder.Segment) {
			select {
			case first <- time.Now().Add(-time.Duration(sg.Duration * float64(time.Second))):
			default:
			}
		})
		if err == nil && !res.Finished {
			err = errors.New("not finished")
		}
		done <- err
	}()
	// Media time 0 is about when the first segment began: its storage time minus its length
	// (the poll and upload make this a little late, which the windows' margins absorb).
	var began time.Time
	select {
	case began = <-first:
	case err := <-done:
		t.Fatalf("Record: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no segment in 30 s")
	}
	// The teacher speaks for 6 s, then the student for 6 s.
	aAt := speak(t, srv, "class-mix", "teacher-mic", toneA, 6*time.Second)
	bAt := speak(t, srv, "class-mix", "student", toneB, 6*time.Second)
	time.Sleep(time.Second)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("Record: %v", err)
	}
	v := fetchVOD(t, rec, job)
	aStart, bStart := aAt.Sub(began).Seconds()+1, bAt.Sub(began).Seconds()+1
	t.Logf("teacher from %.1f s, student from %.1f s", aStart, bStart)
	for _, w := range []struct {
		name  string
		from  float64
		tone  int
		other int
	}{{"teacher", aStart, 440, 880}, {"student", bStart, 880, 440}} {
		own := bandVolume(t, v.file, w.from, 3, w.tone)
		other := bandVolume(t, v.file, w.from, 3, w.other)
		t.Logf("%s window: %d Hz %.1f dB, %d Hz %.1f dB", w.name, w.tone, own, w.other, other)
		if own < -35 {
			t.Errorf("%s is not audible: %d Hz band at %.1f dB", w.name, w.tone, own)
		}
		if own < other+10 {
			t.Errorf("%s window: own tone %.1f dB not clearly above the other's %.1f dB", w.name, own, other)
		}
	}
}

type publishOption func(*publishOptions)
type publishOptions struct{ noAudio bool }

func withoutAudio() publishOption { return func(o *publishOptions) { o.noAudio = true } }

// opusTone encodes 10 s of a sine at hz into an Ogg Opus file with ffmpeg, one 20 ms
// packet per page so each page is one RTP payload.
func opusTone(t *testing.T, dir string, hz int) string {
	t.Helper()
	out := filepath.Join(dir, strconv.Itoa(hz)+".ogg")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
		"sine=frequency="+strconv.Itoa(hz)+":duration=10", "-c:a", "libopus", "-b:a", "32k",
		"-frame_duration", "20", "-ar", "48000", "-page_duration", "20000", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg opus: %v\n%s", err, b)
	}
	return out
}

// speak joins as identity, publishes the Ogg Opus file as a microphone for d in real time,
// then leaves; it returns when the first packet was sent.
func speak(t *testing.T, srv *sfutest.Server, room, identity, file string, d time.Duration) (started time.Time) {
	t.Helper()
	r, err := lksdk.ConnectToRoomWithToken(srv.URL(), srv.Token(room, identity), lksdk.NewRoomCallback(),
		lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("%s join: %v", identity, err)
	}
	defer r.Disconnect()
	track, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "mic",
		Source: livekit.TrackSource_MICROPHONE}); err != nil {
		t.Fatalf("%s publish: %v", identity, err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ogg, _, err := oggreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	for !track.IsBound() {
		time.Sleep(10 * time.Millisecond)
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	started = time.Now()
	end := started.Add(d)
	var seq uint16
	var ts uint32
	for time.Now().Before(end) {
		<-tick.C
		page, _, err := ogg.ParseNextPage()
		if errors.Is(err, io.EOF) {
			return started
		}
		if err != nil {
			t.Fatal(err)
		}
		if len(page) < 2 || string(page[:4]) == "Opus" {
			continue // OpusHead / OpusTags
		}
		ts += 960
		seq++
		if err := track.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: page}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return started
}

var meanVolume = regexp.MustCompile(`mean_volume: (-?[0-9.]+|-inf) dB`)

// bandVolume is the mean volume (dB) of the audio around hz (a narrow band-pass) in
// [from, from+secs).
func bandVolume(t *testing.T, file string, from, secs float64, hz int) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostats", "-ss", strconv.FormatFloat(from, 'f', 2, 64),
		"-t", strconv.FormatFloat(secs, 'f', 2, 64), "-i", file, "-vn",
		"-af", "bandpass=f="+strconv.Itoa(hz)+":width_type=q:w=8,volumedetect", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("volumedetect: %v\n%s", err, out)
	}
	m := meanVolume.FindSubmatch(out)
	if m == nil {
		t.Fatalf("no mean_volume in:\n%s", out)
	}
	if string(m[1]) == "-inf" {
		return -200
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}
