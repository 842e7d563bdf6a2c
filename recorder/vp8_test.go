package recorder_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestVP8IsTranscoded records a real VP8 camera (ffmpeg's libvpx encoding a test pattern at
// 640x360, sent as RTP and published through server-sdk-go): the recording is H.264 (libx264)
// with AAC, at the camera's size.
func TestVP8IsTranscoded(t *testing.T) {
	srv := sfutest.Serve(t)
	s3 := s3test.Serve(t)
	room, err := lksdk.ConnectToRoomWithToken(srv.URL(), srv.Token("class-vp8", "teacher"), lksdk.NewRoomCallback(),
		lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatal(err)
	}
	defer room.Disconnect()
	track, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "camera",
		Source: livekit.TrackSource_CAMERA, VideoWidth: 640, VideoHeight: 360}); err != nil {
		t.Fatal(err)
	}
	// ffmpeg encodes VP8 in real time (a keyframe every second) and sends RTP to us.
	in, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	enc := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-f", "lavfi", "-i",
		"testsrc2=size=640x360:rate=30", "-c:v", "libvpx", "-b:v", "800k", "-deadline", "realtime", "-cpu-used", "8",
		"-g", "30", "-f", "rtp", "-payload_type", "96",
		"rtp://127.0.0.1:"+strconv.Itoa(in.LocalAddr().(*net.UDPAddr).Port)+"?pkt_size=1200")
	if err := enc.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = enc.Wait() }()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, err := in.Read(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(buf[:n]) != nil || !track.IsBound() {
				continue
			}
			if err := track.WriteRTP(&p, nil); err != nil && !errors.Is(err, net.ErrClosed) {
				return
			}
		}
	}()

	rec := newRecorder(t, srv, s3)
	job := recorder.Job{ID: "EG_vp8", Room: "class-vp8"}
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer rcancel()
	stop := make(chan struct{})
	first := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		res, err := rec.Record(rctx, job, nil, stop, func(recorder.Segment) {
			select {
			case first <- struct{}{}:
			default:
			}
		})
		if err == nil && !res.Finished {
			err = errors.New("not finished")
		}
		done <- err
	}()
	select {
	case <-first:
	case err := <-done:
		t.Fatalf("Record: %v", err)
	case <-time.After(40 * time.Second):
		t.Fatal("no segment in 40 s")
	}
	time.Sleep(6 * time.Second)
	close(stop)
	if err := <-done; err != nil {
		t.Fatalf("Record: %v", err)
	}
	v := fetchVOD(t, rec, job)
	checkSeqs(t, v.segs)
	p := ffprobe(t, v.file)
	if p.codecs() != "video:h264,audio:aac" || p.Streams[0].Width != 640 || p.Streams[0].Height != 360 {
		t.Fatalf("streams %s, %dx%d; want h264 640x360 + aac", p.codecs(), p.Streams[0].Width, p.Streams[0].Height)
	}
	// 6 s were recorded after the first segment, but on the shared 2-core machine (load 15+)
	// the stored duration varied from 3.5 to 8.6 s: the publishing encoder and the
	// transcoder compete for CPU, and which of them falls behind is not established yet
	// (docs/recording.md). This test checks the transcoding path; duration is logged.
	if d := p.duration(); d < 1.5 {
		t.Errorf("duration %.2f s, want at least one segment", d)
	}
	t.Logf("VP8 recorded as %s, %.2f s", p.codecs(), p.duration())
}
