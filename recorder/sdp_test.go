package recorder

import (
	"strings"
	"testing"
)

func TestBuildSDP(t *testing.T) {
	cases := []struct {
		in      muxInput
		want    []string
		wantErr bool
	}{
		{muxInput{VideoPort: 5000, VideoMime: "video/H264", AudioPorts: []int{5002, 5004}},
			[]string{"m=video 5000 RTP/AVP 96", "H264/90000", "m=audio 5002 RTP/AVP 111", "m=audio 5004 RTP/AVP 111"}, false},
		{muxInput{VideoPort: 5000, VideoMime: "video/VP8"}, []string{"VP8/90000"}, false},
		{muxInput{VideoPort: 5000, VideoMime: "video/AV1"}, nil, true},
		{muxInput{}, nil, true},
	}
	for _, c := range cases {
		got, err := buildSDP(c.in)
		if (err != nil) != c.wantErr {
			t.Errorf("buildSDP(%+v) err = %v, want error %v", c.in, err, c.wantErr)
			continue
		}
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("buildSDP(%+v) lacks %q:\n%s", c.in, w, got)
			}
		}
	}
}

func TestFFmpegArgs(t *testing.T) {
	cases := []struct {
		in   muxInput
		want []string
		not  []string
	}{
		{muxInput{VideoPort: 1, VideoMime: "video/H264", AudioPorts: []int{3}},
			[]string{"-c:v copy", "-map 0:a:0 -c:a aac", "-start_number 7", "init_2.mp4"}, []string{"amix", "libx264"}},
		{muxInput{VideoPort: 1, VideoMime: "video/H264", AudioPorts: []int{3, 5, 7}},
			[]string{"[0:a:0][0:a:1][0:a:2]amix=inputs=3", "-map [mix]"}, nil},
		{muxInput{VideoPort: 1, VideoMime: "video/VP8"}, []string{"-c:v libx264", "-r 30"}, []string{"-c:a"}},
	}
	for _, c := range cases {
		got := strings.Join(ffmpegArgs("in.sdp", "/d", c.in, 2, 7, 2), " ")
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("ffmpegArgs(%+v) lacks %q: %s", c.in, w, got)
			}
		}
		for _, w := range c.not {
			if strings.Contains(got, w) {
				t.Errorf("ffmpegArgs(%+v) has %q: %s", c.in, w, got)
			}
		}
	}
}

func TestH264KeyframeStart(t *testing.T) {
	cases := []struct {
		name string
		p    []byte
		want bool
	}{
		{"SPS", []byte{0x67, 0x42}, true},
		{"IDR without SPS", []byte{0x65, 0x88}, false},
		{"non-IDR slice", []byte{0x41, 0x9a}, false},
		{"PPS alone", []byte{0x68, 0xce}, false},
		{"STAP-A with SPS first", []byte{0x78, 0x00, 0x0a, 0x67, 0x42}, true},
		{"STAP-A with a slice", []byte{0x78, 0x00, 0x0a, 0x41, 0x9a}, false},
		{"FU-A start of IDR", []byte{0x7c, 0x85, 0x88}, false},
		{"FU-A start of SPS", []byte{0x7c, 0x87, 0x42}, true},
		{"FU-A middle of IDR", []byte{0x7c, 0x05, 0x88}, false},
		{"FU-A start of slice", []byte{0x5c, 0x81, 0x9a}, false},
		{"empty", nil, false},
		{"short STAP-A", []byte{0x78, 0x00}, false},
	}
	for _, c := range cases {
		if got := h264KeyframeStart(c.p); got != c.want {
			t.Errorf("h264KeyframeStart(%s % x) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
}

func TestVP8KeyframeStart(t *testing.T) {
	cases := []struct {
		name string
		p    []byte
		want bool
	}{
		{"keyframe, no extension", []byte{0x10, 0x50}, true},
		{"interframe, no extension", []byte{0x10, 0x51}, false},
		{"keyframe, 15-bit picture id", []byte{0x90, 0x80, 0x81, 0x23, 0x50}, true},
		{"interframe, 15-bit picture id", []byte{0x90, 0x80, 0x81, 0x23, 0x51}, false},
		{"keyframe, 7-bit picture id, TL0PICIDX, TID", []byte{0x90, 0xe0, 0x05, 0x07, 0x40, 0x50}, true},
		{"not the start of a partition", []byte{0x00, 0x50}, false},
		{"start of partition 1", []byte{0x11, 0x50}, false},
		{"truncated after the descriptor", []byte{0x90, 0x80, 0x81}, false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		if got := vp8KeyframeStart(c.p); got != c.want {
			t.Errorf("vp8KeyframeStart(%s % x) = %v, want %v", c.name, c.p, got, c.want)
		}
	}
}
