package sfu_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pion/rtp/codecs"

	"github.com/atrium-live/atrium/sfu/internal/keyframe"
)

// TestSyntheticH264Decodes proves the synthetic H.264 stream is a real bitstream: ffmpeg
// decodes every frame (keyframes and skipped P frames) without an error.
func TestSyntheticH264Decodes(t *testing.T) {
	ffmpeg, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Fatalf("ffmpeg not found (scripts/test-deps.sh installs it): %v", err)
	}
	s := &h264Stream{wMB: 4, hMB: 3}
	var stream bytes.Buffer
	const frames = 30
	for i := 0; i < frames; i++ {
		stream.Write(s.next(i%10 == 0, byte(0x40+i)))
	}
	in := filepath.Join(t.TempDir(), "synth.h264")
	if err := os.WriteFile(in, stream.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(ffmpeg, "-v", "error", "-f", "h264", "-i", in, "-f", "rawvideo", "-pix_fmt", "gray", "-")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg could not decode the synthetic stream: %v\n%s", err, stderr.String())
	}
	if want := frames * 64 * 48; stdout.Len() != want {
		t.Errorf("decoded %d bytes of gray pixels, want %d (30 frames of 64x48)", stdout.Len(), want)
	}
}

// TestSyntheticKeyframesDetected: the media path's keyframe detectors recognise the
// synthetic keyframes, and only them, once packetised as the SDK does.
func TestSyntheticKeyframesDetected(t *testing.T) {
	s := &h264Stream{wMB: 4, hMB: 3}
	for _, tc := range []struct {
		name  string
		frame []byte
		pay   interface{ Payload(uint16, []byte) [][]byte }
		det   keyframe.Func
		want  bool
	}{
		{"vp8 key", vp8Frame(true, 64, 48, 1), &codecs.VP8Payloader{}, keyframe.VP8, true},
		{"vp8 delta", vp8Frame(false, 64, 48, 1), &codecs.VP8Payloader{}, keyframe.VP8, false},
		{"h264 idr", s.next(true, 0x40), &codecs.H264Payloader{}, keyframe.H264, true},
		{"h264 p", s.next(false, 0x40), &codecs.H264Payloader{}, keyframe.H264, false},
	} {
		pkts := tc.pay.Payload(1200, tc.frame)
		if len(pkts) == 0 {
			t.Fatalf("%s: no packets", tc.name)
		}
		if got := tc.det(pkts[0]); got != tc.want {
			t.Errorf("%s: detector on the first packet = %v, want %v", tc.name, got, tc.want)
		}
	}
}
