package synth

import (
	"bytes"
	"testing"
	"time"

	lkcodec "github.com/livekit/mediatransportutil/pkg/codec"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

func TestStampRoundTripThroughRTP(t *testing.T) {
	sent := time.Unix(1_700_000_000, 123456789)
	tests := []struct {
		name string
		pkt  rtp.Packet
	}{
		{"plain", rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96}}},
		{"with extension", withExt()},
		{"with csrc and padding", rtp.Packet{Header: rtp.Header{Version: 2, CSRC: []uint32{7, 8}, Padding: true}, PaddingSize: 7}},
	}
	for _, tc := range tests {
		payload := append([]byte{0xf8, 1, 2, 3}, make([]byte, StampSize)...)
		want := Stamp{Seq: 4_000_000_000, Layer: 2, Flags: FlagKeyframe, Sent: sent}
		PutStamp(payload, want)
		tc.pkt.Payload = payload
		raw, err := tc.pkt.Marshal()
		if err != nil {
			t.Fatalf("%s: marshal: %v", tc.name, err)
		}
		p, ok := RTPPayload(raw)
		if !ok || !bytes.Equal(p, payload) {
			t.Fatalf("%s: RTPPayload = %x, %v; want %x", tc.name, p, ok, payload)
		}
		got, ok := ReadStamp(p)
		if !ok || got.Seq != want.Seq || got.Layer != want.Layer || got.Flags != want.Flags || !got.Sent.Equal(sent) {
			t.Errorf("%s: ReadStamp = %+v, %v; want %+v", tc.name, got, ok, want)
		}
	}
	if _, ok := ReadStamp([]byte("no stamp in this payload at all")); ok {
		t.Error("ReadStamp(no stamp) ok = true, want false")
	}
	if _, ok := RTPPayload([]byte{0x80, 0, 0}); ok {
		t.Error("RTPPayload(short) ok = true, want false")
	}
}

func TestOpus(t *testing.T) {
	o := NewOpus(32000)
	p := o.Next()
	if len(p) != 80 {
		t.Errorf("len(payload) = %d, want 80 bytes for 32 kb/s at 20 ms", len(p))
	}
	if p[0]>>3 != 31 || p[0]&3 != 0 {
		t.Errorf("TOC = %#x, want config 31 code 0", p[0])
	}
}

func newVideo(t *testing.T, codec string, w, h int) *Video {
	t.Helper()
	v, err := NewVideo(VideoParams{Codec: codec, Bitrate: 1_500_000, FPS: 30, Width: w, Height: h,
		KeyframeInterval: 2 * time.Second})
	if err != nil {
		t.Fatalf("NewVideo(%s): %v", codec, err)
	}
	return v
}

// frames runs n frames at the nominal frame interval and returns the keyframe indices and
// total payload bytes.
func frames(v *Video, n int, onFrame func(i int, p [][]byte, key bool)) (keys []int, bytes int) {
	now := time.Unix(1000, 0)
	for i := 0; i < n; i++ {
		p, key := v.NextFrame(now)
		if key {
			keys = append(keys, i)
		}
		for _, b := range p {
			bytes += len(b)
		}
		if onFrame != nil {
			onFrame(i, p, key)
		}
		now = now.Add(v.FrameInterval())
	}
	return keys, bytes
}

func TestVideoStructureAndBitrate(t *testing.T) {
	for _, codec := range []string{"vp8", "h264"} {
		v := newVideo(t, codec, 1280, 720)
		keys, n := frames(v, 300, nil) // 10 s
		if want := []int{0, 60, 120, 180, 240}; !equalInts(keys, want) {
			t.Errorf("%s: keyframes at %v, want %v", codec, keys, want)
		}
		got := float64(n*8) / 10
		if got < 1_400_000 || got > 1_650_000 {
			t.Errorf("%s: bitrate %.0f b/s, want about 1.5 Mb/s", codec, got)
		}
	}
}

func TestVideoKeyframeOnRequest(t *testing.T) {
	v := newVideo(t, "vp8", 640, 360) // 30 fps: frame i at i*33.3 ms
	now := time.Unix(1000, 0)
	for i := 0; i <= 12; i++ {
		if i == 3 {
			v.RequestKeyframe()
		}
		_, key := v.NextFrame(now)
		// Frame 0 is the first keyframe; the request at frame 3 is served at frame 10, the
		// first frame at least 300 ms (MinKeyframeGap) after frame 0 (frame 9 is at 299.99 ms).
		if want := i == 0 || i == 10; key != want {
			t.Errorf("frame %d: keyframe = %v, want %v", i, key, want)
		}
		now = now.Add(v.FrameInterval())
	}
}

func withExt() rtp.Packet {
	p := rtp.Packet{Header: rtp.Header{Version: 2}}
	if err := p.SetExtension(1, []byte{1, 2, 3}); err != nil {
		panic(err)
	}
	return p
}

func TestVP8Packets(t *testing.T) {
	v := newVideo(t, "vp8", 1280, 720)
	frames(v, 2, func(i int, pkts [][]byte, key bool) {
		for j, b := range pkts {
			if len(b) > 1100 {
				t.Errorf("frame %d packet %d: %d bytes, want <= 1100", i, j, len(b))
			}
			var d codecs.VP8Packet
			if _, err := d.Unmarshal(b); err != nil {
				t.Fatalf("frame %d packet %d: VP8 descriptor: %v", i, j, err)
			}
			if d.S == 1 != (j == 0) || d.I != 1 || d.PictureID != uint16(i) {
				t.Errorf("frame %d packet %d: S=%d I=%d PictureID=%d", i, j, d.S, d.I, d.PictureID)
			}
			if j == 0 {
				var lk lkcodec.VP8
				if err := lk.Unmarshal(b); err != nil {
					t.Fatalf("livekit VP8 parse: %v", err)
				}
				if lk.IsKeyFrame != key {
					t.Errorf("frame %d: livekit IsKeyFrame = %v, want %v", i, lk.IsKeyFrame, key)
				}
				if key {
					if sz := lkcodec.ExtractVP8VideoSize(&lk, b); sz.Width != 1280 || sz.Height != 720 {
						t.Errorf("keyframe size = %v, want 1280x720", sz)
					}
				}
			}
		}
	})
}

func TestH264Packets(t *testing.T) {
	for _, dim := range [][2]int{{1280, 720}, {640, 360}, {320, 180}} {
		v := newVideo(t, "h264", dim[0], dim[1])
		frames(v, 2, func(i int, pkts [][]byte, key bool) {
			// Reassemble NAL units the way a depacketizer does, stamps removed.
			var dep codecs.H264Packet
			var au []byte
			for _, b := range pkts {
				out, err := dep.Unmarshal(b[:len(b)-StampSize])
				if err != nil {
					t.Fatalf("frame %d: depacketize: %v", i, err)
				}
				au = append(au, out...)
			}
			nals := bytes.Split(au, []byte{0, 0, 0, 1})[1:]
			var types []byte
			for _, n := range nals {
				types = append(types, n[0]&0x1f)
			}
			want := []byte{1}
			if key {
				want = []byte{7, 8, 5}
				sz := lkcodec.ExtractH264VideoSize(pkts[0][:len(pkts[0])-StampSize])
				if int(sz.Width) != dim[0] || int(sz.Height) != dim[1] {
					t.Errorf("SPS size = %dx%d, want %dx%d", sz.Width, sz.Height, dim[0], dim[1])
				}
			}
			if !bytes.Equal(types, want) {
				t.Errorf("frame %d: NAL types %v, want %v", i, types, want)
			}
		})
	}
}

func TestNewVideoRejects(t *testing.T) {
	bad := []VideoParams{
		{Codec: "av2", Bitrate: 1e6, FPS: 30, Width: 640, Height: 360},
		{Codec: "vp8", Bitrate: 10, FPS: 30, Width: 640, Height: 360},
		{Codec: "vp8", Bitrate: 1e6, FPS: 0, Width: 640, Height: 360},
		{Codec: "vp8", Bitrate: 1e6, FPS: 30, Width: 0, Height: 360},
	}
	for _, p := range bad {
		if _, err := NewVideo(p); err == nil {
			t.Errorf("NewVideo(%+v) = nil error, want error", p)
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
