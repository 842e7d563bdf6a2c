package recorder

import (
	"encoding/hex"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/bench/synth"
)

// SPS NAL units (header byte first) written by x264 (ffmpeg -c:v libx264), with their
// emulation-prevention bytes: High with cropping (1080 = 68 rows of 16 less 8), Main,
// Constrained Baseline, and High interlaced (field macroblock pairs).
var spsCases = []struct {
	name string
	hex  string
	want picSize
}{
	{"high 1920x1080", "67640028acd940780227e5c044000003000400000300f03c60c658", picSize{1920, 1080}},
	{"main 1280x720", "674d401feca02802dd8088000003000800000301e078c18cb0", picSize{1280, 720}},
	{"baseline 640x360", "6742c01eda0280bfe5c044000003000400000300f03c58ba80", picSize{640, 360}},
	{"high interlaced 1920x1080", "67640028acd94078044fde0220000003002000000783e2c5b2c0", picSize{1920, 1080}},
}

func TestParseSPS(t *testing.T) {
	for _, c := range spsCases {
		nal, err := hex.DecodeString(c.hex)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := parseSPS(nal[1:]); err != nil || got != c.want {
			t.Errorf("parseSPS(%s) = %v, %v; want %v", c.name, got, err, c.want)
		}
		// The same SPS as an RTP payload: single NAL unit, first in a STAP-A, first FU-A fragment.
		stap := append([]byte{24, 0, byte(len(nal))}, nal...)
		stap = append(stap, 0, 4, 0x68, 1, 2, 3) // a PPS after it
		fu := append([]byte{nal[0]&0xe0 | 28, 0x80 | 7}, nal[1:12]...)
		for _, p := range []struct {
			kind    string
			payload []byte
		}{{"single", nal}, {"STAP-A", stap}} {
			if got := h264KeyframeSize(p.payload); got != c.want {
				t.Errorf("h264KeyframeSize(%s as %s) = %v, want %v", c.name, p.kind, got, c.want)
			}
		}
		// A first fragment of 11 bytes holds the fields up to the size for these SPSs
		// only partly; it must never yield a wrong size.
		if got := h264KeyframeSize(fu); got.known() && got != c.want {
			t.Errorf("h264KeyframeSize(%s as a short FU-A) = %v, want %v or unknown", c.name, got, c.want)
		}
	}
	for _, bad := range [][]byte{nil, {0x67}, {0x67, 0x42}, {0x65, 1, 2, 3}, {24, 0, 9, 0x67, 0x42}} {
		if got := h264KeyframeSize(bad); got.known() {
			t.Errorf("h264KeyframeSize(% x) = %v, want unknown", bad, got)
		}
	}
}

// The synthetic H.264 the bench and the recorder's tests publish announces its size too.
func TestSynthKeyframeSize(t *testing.T) {
	for _, want := range []picSize{{320, 180}, {640, 360}, {1280, 720}, {1920, 1080}, {64, 48}} {
		gen, err := synth.NewVideo(synth.VideoParams{Codec: "h264", Bitrate: 500_000, FPS: 30, Width: want.w, Height: want.h})
		if err != nil {
			t.Fatal(err)
		}
		payloads, key := gen.NextFrame(time.Now())
		if !key || len(payloads) == 0 || !h264KeyframeStart(payloads[0]) {
			t.Fatalf("synth %v: first frame is no keyframe starting with an SPS", want)
		}
		if got := h264KeyframeSize(payloads[0]); got != want {
			t.Errorf("h264KeyframeSize(synth %v) = %v", want, got)
		}
	}
}

func TestVP8KeyframeSize(t *testing.T) {
	key := []byte{0x90, 0x80, 0x12, 0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0x68, 0x01}
	for _, c := range []struct {
		name    string
		payload []byte
		want    picSize
	}{
		{"keyframe 640x360 with a 7-bit picture id", key, picSize{640, 360}},
		{"keyframe 320x180, no extension", []byte{0x10, 0x50, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}, picSize{320, 180}},
		{"inter frame", []byte{0x10, 0x51, 0, 0, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}, picSize{}},
		{"not a partition start", append([]byte{0x80, 0x80, 0x12}, key[3:]...), picSize{}},
		{"bad start code", []byte{0x10, 0x50, 0, 0, 0x9d, 0x01, 0x2b, 0x40, 0x01, 0xb4, 0x00}, picSize{}},
		{"truncated", key[:10], picSize{}},
	} {
		if got := vp8KeyframeSize(c.payload); got != c.want {
			t.Errorf("vp8KeyframeSize(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestTopSize(t *testing.T) {
	simulcast := &livekit.TrackInfo{Width: 1280, Height: 720, Layers: []*livekit.VideoLayer{
		{Quality: livekit.VideoQuality_LOW, Width: 320, Height: 180},
		{Quality: livekit.VideoQuality_MEDIUM, Width: 640, Height: 360},
		{Quality: livekit.VideoQuality_HIGH, Width: 1280, Height: 720}}}
	for _, c := range []struct {
		name string
		info *livekit.TrackInfo
		want picSize
	}{
		{"simulcast", simulcast, picSize{1280, 720}},
		{"layers only", &livekit.TrackInfo{Layers: simulcast.Layers[:2]}, picSize{640, 360}},
		{"single layer", &livekit.TrackInfo{Width: 1920, Height: 1080}, picSize{1920, 1080}},
		{"nothing announced", &livekit.TrackInfo{}, picSize{}},
		{"no info", nil, picSize{}},
	} {
		if got := topSize(c.info); got != c.want {
			t.Errorf("topSize(%s) = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestKeyframeAction(t *testing.T) {
	var (
		none = picSize{}
		q    = picSize{320, 180}
		h    = picSize{640, 360}
		f    = picSize{1280, 720}
		f2   = picSize{960, 540} // the publisher scaled its top layer down (CPU or bandwidth)
	)
	for _, c := range []struct {
		name                  string
		started, transcoded   bool
		run, key, top, accept picSize
		waited                time.Duration
		want                  keyAction
	}{
		{"low layer first: wait for the top", false, false, none, q, f, none, 0, keySkip},
		{"middle layer first: wait for the top", false, false, none, h, f, none, time.Second, keySkip},
		{"top layer starts", false, false, none, f, f, none, 0, keyStart},
		{"top layer scaled down still starts", false, false, none, f2, f, none, 0, keyStart},
		{"waited long enough: start on the low layer", false, false, none, q, f, none, topLayerWait, keyStart},
		{"the size that ended the last muxer starts at once", false, false, none, h, f, h, 0, keyStart},
		{"no layers announced: any keyframe", false, false, none, q, none, none, 0, keyStart},
		{"unknown keyframe size: start", false, false, none, none, f, none, 0, keyStart},
		{"running, same size", true, false, f, f, f, none, time.Minute, keyContinue},
		{"running, switched down", true, false, f, h, f, none, time.Minute, keyResize},
		{"running, switched up", true, false, q, f, f, q, time.Minute, keyResize},
		{"running, size unknown", true, false, f, none, f, none, 0, keyContinue},
		{"running from an unknown size", true, false, none, f, f, none, 0, keyContinue},
		{"transcoded, switched down: the transcoder scales", true, true, f, h, f, none, time.Minute, keyContinue},
		{"transcoded, rescaled down: the transcoder scales", true, true, f, f2, f, none, time.Minute, keyContinue},
		{"transcoded, switched up", true, true, q, f, f, q, time.Minute, keyResize},
		{"transcoded, low layer first: wait for the top", false, true, none, q, f, none, 0, keySkip},
	} {
		if got := keyframeAction(c.started, c.transcoded, c.run, c.key, c.top, c.accept, c.waited); got != c.want {
			t.Errorf("keyframeAction(%s) = %d, want %d", c.name, got, c.want)
		}
	}
}
