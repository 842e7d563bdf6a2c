package recorder_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/bench/synth"
	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

func TestMain(m *testing.M) {
	sfutest.QuietSDK()
	os.Exit(m.Run())
}

// publisher is a server-sdk-go participant sending synthetic H.264 (720p, 30 fps,
// 1.5 Mbit/s) and Opus, as a teacher's camera and microphone would.
type publisher struct {
	room   *lksdk.Room
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func publish(t testing.TB, srv *sfutest.Server, room, identity string, opts ...publishOption) *publisher {
	t.Helper()
	var o publishOptions
	for _, f := range opts {
		f(&o)
	}
	r, err := lksdk.ConnectToRoomWithToken(srv.URL(), srv.Token(room, identity), lksdk.NewRoomCallback(),
		lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("publisher join: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &publisher{room: r, cancel: cancel}
	t.Cleanup(p.stop)

	gen, err := synth.NewVideo(synth.VideoParams{Codec: "h264", Bitrate: 1_500_000, FPS: 30, Width: 1280,
		Height: 720, KeyframeInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	vt, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264,
		ClockRate:   synth.VideoClockRate,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		lksdk.WithRTCPHandler(func(p rtcp.Packet) {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				gen.RequestKeyframe()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LocalParticipant.PublishTrack(vt, &lksdk.TrackPublicationOptions{Name: "camera",
		Source: livekit.TrackSource_CAMERA, VideoWidth: 1280, VideoHeight: 720}); err != nil {
		t.Fatalf("publish video: %v", err)
	}
	if o.noAudio {
		p.wg.Add(1)
		go func() { defer p.wg.Done(); sendVideo(ctx, vt, gen) }()
		return p
	}
	at, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus,
		ClockRate: synth.OpusClockRate, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LocalParticipant.PublishTrack(at, &lksdk.TrackPublicationOptions{Name: "microphone",
		Source: livekit.TrackSource_MICROPHONE}); err != nil {
		t.Fatalf("publish audio: %v", err)
	}
	p.wg.Add(2)
	go func() { defer p.wg.Done(); sendVideo(ctx, vt, gen) }()
	go func() { defer p.wg.Done(); sendAudio(ctx, at) }()
	return p
}

// shareScreen publishes a second synthetic H.264 track (1920x1080, 15 fps) as the screen
// share; the returned func unpublishes it.
func (p *publisher) shareScreen(t testing.TB) (unshare func()) {
	t.Helper()
	gen, err := synth.NewVideo(synth.VideoParams{Codec: "h264", Bitrate: 800_000, FPS: 15, Width: 1920,
		Height: 1080, KeyframeInterval: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	vt, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264,
		ClockRate:   synth.VideoClockRate,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
		lksdk.WithRTCPHandler(func(pk rtcp.Packet) {
			switch pk.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				gen.RequestKeyframe()
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := p.room.LocalParticipant.PublishTrack(vt, &lksdk.TrackPublicationOptions{Name: "screen",
		Source: livekit.TrackSource_SCREEN_SHARE, VideoWidth: 1920, VideoHeight: 1080})
	if err != nil {
		t.Fatalf("publish screen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sendVideo(ctx, vt, gen) }()
	return func() {
		cancel()
		<-done
		if err := p.room.LocalParticipant.UnpublishTrack(pub.SID()); err != nil {
			t.Errorf("unpublish screen: %v", err)
		}
	}
}

func (p *publisher) stop() {
	p.cancel()
	p.wg.Wait()
	p.room.Disconnect()
}

// sendVideo and sendAudio stamp RTP timestamps from the wall clock, as a capture device
// does: on a loaded machine ticks are late or dropped, and counting ticks would make the
// media run slower than real time.
func sendVideo(ctx context.Context, track *lksdk.LocalTrack, gen *synth.Video) {
	tick := time.NewTicker(gen.FrameInterval())
	defer tick.Stop()
	var seq uint16
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ts := uint32(time.Since(start).Seconds() * synth.VideoClockRate)
		if !track.IsBound() {
			continue
		}
		payloads, _ := gen.NextFrame(time.Now())
		for i, pl := range payloads {
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == len(payloads)-1,
				SequenceNumber: seq, Timestamp: ts}, Payload: pl}
			if err := track.WriteRTP(&pkt, nil); err != nil {
				return
			}
			seq++
		}
	}
}

func sendAudio(ctx context.Context, track *lksdk.LocalTrack) {
	gen := synth.NewOpus(32000)
	tick := time.NewTicker(synth.OpusFrameDuration)
	defer tick.Stop()
	var seq uint16
	start := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		// Whole 20 ms frames since the start.
		ts := uint32(time.Since(start)/synth.OpusFrameDuration) * synth.OpusTicksPerFrame
		if !track.IsBound() {
			continue
		}
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: gen.Next()}
		if err := track.WriteRTP(&pkt, nil); err != nil {
			return
		}
		seq++
	}
}

// newRecorder builds a recorder against srv and s3 with a short retry policy.
func newRecorder(t testing.TB, srv *sfutest.Server, s3 *s3test.Server, mutate ...func(*recorder.Config)) *recorder.Server {
	t.Helper()
	cfg := recorder.DefaultConfig()
	cfg.HTTP = ""
	cfg.LiveKit = recorder.LiveKitConfig{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: srv.APISecret()}
	cfg.S3 = s3.Config()
	cfg.SpoolDir = t.TempDir()
	cfg.UploadRetryMax = time.Second
	cfg.FinishTimeout = 60 * time.Second
	for _, f := range mutate {
		f(&cfg)
	}
	log := slog.New(slog.NewTextHandler(&tlog{t: t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	rec, err := recorder.New(cfg, recorder.Deps{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := rec.Store().EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	return rec
}

type tlog struct {
	t    testing.TB
	mu   sync.Mutex
	done bool
}

func (w *tlog) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSpace(string(b)))
	}
	return len(b), nil
}

// vod is a recording fetched back from storage.
type vod struct {
	playlist string
	segs     []string // segment URIs in playlist order
	file     string   // the first epoch's init segment and media segments concatenated
	epochs   []string // the same for every epoch (one per EXT-X-MAP), in order
}

// fetchVOD downloads the playlist and every object it names, and concatenates each
// epoch's init segment and media segments into one fMP4 file ffprobe can read.
func fetchVOD(t *testing.T, rec *recorder.Server, job recorder.Job) vod {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pl, err := rec.Store().Get(ctx, job.PlaylistKey())
	if err != nil {
		t.Fatalf("playlist: %v", err)
	}
	v := vod{playlist: string(pl)}
	prefix := job.PlaylistKey()[:strings.LastIndex(job.PlaylistKey(), "/")+1]
	dir := t.TempDir()
	var cur *bytes.Buffer
	var bufs []*bytes.Buffer
	for _, line := range strings.Split(v.playlist, "\n") {
		if strings.HasPrefix(line, "#EXT-X-MAP:URI=") {
			uri, _ := strconv.Unquote(strings.TrimPrefix(line, "#EXT-X-MAP:URI="))
			b, err := rec.Store().Get(ctx, prefix+uri)
			if err != nil {
				t.Fatalf("init segment: %v", err)
			}
			cur = bytes.NewBuffer(b)
			bufs = append(bufs, cur)
			continue
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		v.segs = append(v.segs, line)
		b, err := rec.Store().Get(ctx, prefix+line)
		if err != nil {
			t.Fatalf("segment %s: %v", line, err)
		}
		if cur == nil {
			t.Fatalf("segment %s before any EXT-X-MAP", line)
		}
		cur.Write(b)
	}
	for i, b := range bufs {
		f := filepath.Join(dir, fmt.Sprintf("epoch%d.mp4", i))
		if err := os.WriteFile(f, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		v.epochs = append(v.epochs, f)
	}
	if len(v.epochs) == 0 {
		t.Fatalf("playlist has no EXT-X-MAP:\n%s", v.playlist)
	}
	v.file = v.epochs[0]
	return v
}

// probe is what ffprobe says about a file.
type probe struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func ffprobe(t *testing.T, file string) probe {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_streams", "-show_format", "-of", "json", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var p probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	return p
}

func (p probe) duration() float64 {
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	return d
}

func (p probe) codecs() string {
	var s []string
	for _, st := range p.Streams {
		s = append(s, fmt.Sprintf("%s:%s", st.CodecType, st.CodecName))
	}
	return strings.Join(s, ",")
}

// checkSeqs fails unless segs are seg_<first>.m4s, seg_<first+1>.m4s, ... with no hole.
func checkSeqs(t *testing.T, segs []string) {
	t.Helper()
	for i, s := range segs {
		if want := fmt.Sprintf("seg_%05d.m4s", i); s != want {
			t.Fatalf("segment %d is %s, want %s (all: %v)", i, s, want, segs)
		}
	}
}

// counterValue reads a counter of rec's registry by name.
func counterValue(t *testing.T, rec *recorder.Server, name string) float64 {
	t.Helper()
	mfs, err := rec.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	t.Fatalf("metric %s not registered", name)
	return 0
}
