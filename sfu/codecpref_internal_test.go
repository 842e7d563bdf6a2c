package sfu

import (
	"strings"
	"testing"

	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/sfu/internal/media"
)

func TestPreferredCodecs(t *testing.T) {
	offer := strings.Join([]string{
		"v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111", "c=IN IP4 0.0.0.0", "a=mid:0", "a=msid:s mic-cid", "a=sendonly", "a=rtpmap:111 opus/48000/2",
		"m=video 9 UDP/TLS/RTP/SAVPF 96 98", "c=IN IP4 0.0.0.0", "a=mid:1", "a=msid:s cam-cid", "a=sendonly", "a=rtpmap:96 VP8/90000", "a=rtpmap:98 VP9/90000",
		"m=video 9 UDP/TLS/RTP/SAVPF 96 98", "c=IN IP4 0.0.0.0", "a=mid:2", "a=msid:s screen-cid", "a=sendonly", "a=rtpmap:96 VP8/90000", "a=rtpmap:98 VP9/90000",
		"m=video 9 UDP/TLS/RTP/SAVPF 96", "c=IN IP4 0.0.0.0", "a=mid:3", "a=recvonly", "a=rtpmap:96 VP8/90000",
		"",
	}, "\r\n")
	for _, c := range []struct {
		name    string
		pending map[string]string
		want    map[string]string
	}{
		{"nothing pending", nil, nil},
		{"camera asks for vp9", map[string]string{"cam-cid": "vp9"}, map[string]string{"1": "video/vp9"}},
		{"two tracks", map[string]string{"cam-cid": "VP9", "screen-cid": "av1", "mic-cid": "opus"}, map[string]string{"1": "video/vp9", "2": "video/av1"}},
		{"unknown cid", map[string]string{"other": "vp9"}, map[string]string{}},
	} {
		got := preferredCodecs(offer, c.pending)
		if len(got) != len(c.want) {
			t.Errorf("%s: preferredCodecs = %v, want %v", c.name, got, c.want)
			continue
		}
		for k, v := range c.want {
			if got[k] != v {
				t.Errorf("%s: preferredCodecs = %v, want %v", c.name, got, c.want)
			}
		}
	}
	if got := preferredCodecs("not sdp", map[string]string{"cam-cid": "vp9"}); len(got) != 0 {
		t.Errorf("preferredCodecs(garbage) = %v, want none", got)
	}
}

func TestCodecsPreferring(t *testing.T) {
	all := media.Codecs(webrtc.RTPCodecTypeVideo)
	got := codecsPreferring(all, "video/vp9")
	if len(got) != len(all) {
		t.Fatalf("codecsPreferring kept %d of %d codecs", len(got), len(all))
	}
	if !strings.EqualFold(got[0].MimeType, webrtc.MimeTypeVP9) || got[1].MimeType != webrtc.MimeTypeRTX || rtxApt(got[1].SDPFmtpLine) != got[0].PayloadType {
		t.Errorf("codecsPreferring(vp9) starts %s/%d %s %q, want VP9 then its RTX", got[0].MimeType, got[0].PayloadType, got[1].MimeType, got[1].SDPFmtpLine)
	}
	if got[2].MimeType != webrtc.MimeTypeVP8 {
		t.Errorf("codecsPreferring(vp9)[2] = %s, want the rest in order (VP8 first)", got[2].MimeType)
	}
	if codecsPreferring(all, "video/h265") != nil {
		t.Error("codecsPreferring of a codec not offered: want nil (leave the order alone)")
	}
}
