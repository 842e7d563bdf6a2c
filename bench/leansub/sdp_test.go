package leansub

import (
	"net/netip"
	"strings"
	"testing"
)

const offer = "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 AB:CD\r\na=group:BUNDLE 0 1 2\r\n" +
	"m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:0\r\na=ice-ufrag:srvU\r\na=ice-pwd:srvP\r\na=sctp-port:5000\r\n" +
	"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:1\r\na=ice-ufrag:srvU\r\na=ice-pwd:srvP\r\na=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10\r\n" +
	"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\na=rtcp-fb:111 transport-cc\r\na=ssrc:1111 cname:x\r\na=ssrc:1111 msid:PA_a|TR_audio TR_audio\r\na=sendonly\r\n" +
	"a=candidate:1 1 udp 2130706431 127.0.0.1 7882 typ host\r\n" +
	"m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\na=rtpmap:96 VP8/90000\r\na=msid:PA_a|TR_video TR_video\r\na=ssrc:2222 cname:x\r\na=sendonly\r\n" +
	"m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:3\r\na=inactive\r\n"

func TestParseOfferAndAnswer(t *testing.T) {
	secs, ufrag, pwd, cands := parseOffer(offer)
	if ufrag != "srvU" || pwd != "srvP" || len(cands) != 1 {
		t.Fatalf("ufrag %q pwd %q candidates %q", ufrag, pwd, cands)
	}
	if len(secs) != 4 {
		t.Fatalf("%d sections, want 4", len(secs))
	}
	if a := secs[1]; a.kind != "audio" || a.mid != "1" || a.ssrc != 1111 || a.trackID != "TR_audio" || a.direction != "sendonly" || len(a.attrs) != 4 {
		t.Errorf("audio section %+v", a)
	}
	if v := secs[2]; v.kind != "video" || v.ssrc != 2222 || v.trackID != "TR_video" {
		t.Errorf("video section %+v", v)
	}
	if !secs[3].rejected {
		t.Error("port 0 section not seen as rejected")
	}
	ans := buildAnswer(secs, "myU", "myP", "11:22")
	for _, want := range []string{
		"a=group:BUNDLE 1 2\r\n", "a=ice-ufrag:myU\r\n", "a=setup:active\r\n",
		"m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n",
		"m=audio 9 UDP/TLS/RTP/SAVPF 111\r\n", "a=mid:1\r\na=recvonly\r\n",
		"a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01\r\n",
		"m=video 0 UDP/TLS/RTP/SAVPF 96\r\n",
	} {
		if !strings.Contains(ans, want) {
			t.Errorf("answer lacks %q:\n%s", want, ans)
		}
	}
	if strings.Contains(ans, "ssrc") {
		t.Errorf("answer sends streams:\n%s", ans)
	}
}

func TestParseCandidate(t *testing.T) {
	cases := []struct {
		in   string
		want string // "" : not usable
	}{
		{`{"candidate":"candidate:1 1 udp 2130706431 127.0.0.1 7882 typ host","sdpMid":"0"}`, "127.0.0.1:7882"},
		{"candidate:1 1 UDP 2130706431 10.0.0.5 50000 typ host", "10.0.0.5:50000"},
		{"candidate:2 1 udp 1694498815 1.2.3.4 7882 typ srflx raddr 0.0.0.0 rport 0", ""},
		{"candidate:3 1 tcp 1 127.0.0.1 7881 typ host tcptype passive", ""},
		{"candidate:4 2 udp 1 127.0.0.1 7883 typ host", ""},
		{`{"candidate":`, ""},
	}
	for _, c := range cases {
		got, ok := parseCandidate(c.in)
		if c.want == "" {
			if ok {
				t.Errorf("%q: got %v, want unusable", c.in, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddrPort(c.want) {
			t.Errorf("%q: got %v %v, want %s", c.in, got, ok, c.want)
		}
	}
}
