package recorder

import (
	"strings"
	"testing"
)

func TestRenderPlaylist(t *testing.T) {
	segs := []Segment{
		{Seq: 0, URI: "seg_00000.m4s", Init: "init_0.mp4", Duration: 2.002},
		{Seq: 1, URI: "seg_00001.m4s", Init: "init_0.mp4", Duration: 2.6},
		{Seq: 2, URI: "seg_00002.m4s", Init: "init_1.mp4", Duration: 1.9, Discontinuity: true},
	}
	cases := []struct {
		name      string
		segs      []Segment
		final     bool
		want      []string
		forbidden []string
	}{
		{"empty live", nil, false, []string{"#EXTM3U", "#EXT-X-TARGETDURATION:1", "#EXT-X-MEDIA-SEQUENCE:0"},
			[]string{"#EXT-X-ENDLIST", "#EXTINF"}},
		{"live", segs[:2], false, []string{"#EXT-X-VERSION:7", "#EXT-X-TARGETDURATION:3",
			"#EXT-X-MAP:URI=\"init_0.mp4\"\n#EXTINF:2.002,\nseg_00000.m4s\n#EXTINF:2.600,\nseg_00001.m4s\n",
			"#EXT-X-PLAYLIST-TYPE:EVENT"}, []string{"#EXT-X-ENDLIST", "DISCONTINUITY"}},
		{"final with takeover", segs, true, []string{
			"seg_00001.m4s\n#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init_1.mp4\"\n#EXTINF:1.900,\nseg_00002.m4s\n#EXT-X-ENDLIST\n"},
			nil},
	}
	for _, c := range cases {
		got := string(RenderPlaylist(c.segs, c.final))
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: RenderPlaylist lacks %q:\n%s", c.name, w, got)
			}
		}
		for _, f := range c.forbidden {
			if strings.Contains(got, f) {
				t.Errorf("%s: RenderPlaylist has %q:\n%s", c.name, f, got)
			}
		}
	}
}

func TestParseLocalPlaylist(t *testing.T) {
	ffmpeg := "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:5\n" +
		"#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI=\"init_3.mp4\"\n#EXTINF:2.000000,\nseg_00005.m4s\n" +
		"#EXTINF:1.960000,\nseg_00006.m4s\n"
	cases := []struct {
		in      string
		n       int
		init    string
		ended   bool
		wantErr bool
	}{
		{ffmpeg, 2, "init_3.mp4", false, false},
		{ffmpeg + "#EXT-X-ENDLIST\n", 2, "init_3.mp4", true, false},
		{"#EXTM3U\n", 0, "", false, false},
		{"", 0, "", false, true},
		{"garbage\n", 0, "", false, true},
		{"#EXTM3U\nseg_00001.m4s\n", 0, "", false, true},
		{"#EXTM3U\n#EXTINF:abc,\nseg_00001.m4s\n", 0, "", false, true},
	}
	for _, c := range cases {
		e, init, ended, err := parseLocalPlaylist([]byte(c.in))
		if (err != nil) != c.wantErr {
			t.Errorf("parseLocalPlaylist(%q) err = %v, want error %v", c.in, err, c.wantErr)
			continue
		}
		if len(e) != c.n || init != c.init || ended != c.ended {
			t.Errorf("parseLocalPlaylist(%q) = %d entries, init %q, ended %v; want %d, %q, %v",
				c.in, len(e), init, ended, c.n, c.init, c.ended)
		}
	}
}

func TestSegmentSeq(t *testing.T) {
	cases := []struct {
		in string
		n  int
		ok bool
	}{
		{"seg_00042.m4s", 42, true}, {"seg_7.m4s", 7, true}, {"seg_-1.m4s", 0, false},
		{"init_0.mp4", 0, false}, {"seg_00001.ts", 0, false}, {"seg_x.m4s", 0, false},
	}
	for _, c := range cases {
		n, ok := segmentSeq(c.in)
		if n != c.n || ok != c.ok {
			t.Errorf("segmentSeq(%q) = %d, %v; want %d, %v", c.in, n, ok, c.n, c.ok)
		}
	}
}
