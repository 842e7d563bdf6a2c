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
		{muxInput{VideoPort: 1, VideoMime: "video/VP8"}, []string{"-c:v libx264"}, []string{"-c:a"}},
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
