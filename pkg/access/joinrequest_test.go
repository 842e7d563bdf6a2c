package access

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

func sampleJoinRequest() *livekit.JoinRequest {
	allow := true
	return &livekit.JoinRequest{
		ClientInfo:         &livekit.ClientInfo{Sdk: livekit.ClientInfo_JS, Version: "2.23.0", Protocol: 16},
		ConnectionSettings: &livekit.ConnectionSettings{AutoSubscribe: false, AdaptiveStream: true, SubscriberAllowPause: &allow},
		PublisherOffer:     &livekit.SessionDescription{Type: "offer", Sdp: "v=0\r\n" + strings.Repeat("a=x\r\n", 400), Id: 1},
		Reconnect:          true,
		ParticipantSid:     "PA_abc",
	}
}

func TestJoinRequestRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		s, err := EncodeJoinRequest(sampleJoinRequest(), compress)
		if err != nil {
			t.Fatal(err)
		}
		// As livekit-client puts it in the URL: URLSearchParams percent-encodes the padding.
		r := httptest.NewRequest("GET", "/rtc/v1?access_token=x&join_request="+url.QueryEscape(s), nil)
		p, jr, err := ParseJoinRequest(r)
		if err != nil {
			t.Fatalf("compress=%v: %v", compress, err)
		}
		if !proto.Equal(jr, sampleJoinRequest()) {
			t.Errorf("compress=%v: decoded %v", compress, jr)
		}
		want := JoinParams{AutoSubscribe: false, Reconnect: true, ParticipantSID: "PA_abc", Protocol: 16, SDK: "js", SDKVersion: "2.23.0", AdaptiveStream: true}
		if p != want {
			t.Errorf("compress=%v: params %+v, want %+v", compress, p, want)
		}
	}
}

// TestJoinRequestGzipFromBrowser decodes a value built the way livekit-client builds it
// (CompressionStream('gzip'), btoa, '+'->'-', '/'->'_', padding kept) without our encoder.
func TestJoinRequestGzipFromBrowser(t *testing.T) {
	body, _ := proto.Marshal(sampleJoinRequest())
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(body)
	zw.Close()
	raw, _ := proto.Marshal(&livekit.WrappedJoinRequest{Compression: livekit.WrappedJoinRequest_GZIP, JoinRequest: buf.Bytes()})
	std := base64.StdEncoding.EncodeToString(raw)
	for _, s := range []string{std, strings.NewReplacer("+", "-", "/", "_").Replace(std), strings.TrimRight(std, "=")} {
		jr, err := DecodeJoinRequest(s)
		if err != nil || jr.GetPublisherOffer().GetId() != 1 {
			t.Errorf("decode %q...: %v", s[:20], err)
		}
	}
}

func TestJoinRequestMalformed(t *testing.T) {
	wrap := func(c livekit.WrappedJoinRequest_Compression, body []byte) string {
		raw, _ := proto.Marshal(&livekit.WrappedJoinRequest{Compression: c, JoinRequest: body})
		return base64.URLEncoding.EncodeToString(raw)
	}
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	zw.Write(make([]byte, MaxJoinRequestBytes+10))
	zw.Close()
	answer, _ := proto.Marshal(&livekit.JoinRequest{PublisherOffer: &livekit.SessionDescription{Type: "answer", Sdp: "v=0"}})
	for name, tc := range map[string]struct{ in, want string }{
		"missing":         {"", "missing join_request"},
		"not base64":      {"!!!", "not base64url"},
		"not a wrapper":   {base64.URLEncoding.EncodeToString([]byte{0xff, 0xff, 0xff}), "not a WrappedJoinRequest"},
		"bad gzip":        {wrap(livekit.WrappedJoinRequest_GZIP, []byte("plain")), "gzip"},
		"gzip bomb":       {wrap(livekit.WrappedJoinRequest_GZIP, bomb.Bytes()), "uncompressed"},
		"too large":       {wrap(livekit.WrappedJoinRequest_NONE, make([]byte, MaxJoinRequestBytes+1)), "over"},
		"unknown codec":   {wrap(7, nil), "compression 7"},
		"not a request":   {wrap(livekit.WrappedJoinRequest_NONE, []byte{0x0a, 0xff}), "not a JoinRequest"},
		"offer not offer": {wrap(livekit.WrappedJoinRequest_NONE, answer), "type \"answer\""},
	} {
		_, err := DecodeJoinRequest(tc.in)
		if !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want ErrBadRequest saying %q", name, err, tc.want)
		}
	}
}

// FuzzDecodeJoinRequest: join_request arrives from anyone before the token is honoured. The
// decoder never panics, every failure wraps ErrBadRequest, and what it accepts re-encodes to
// something it accepts again.
func FuzzDecodeJoinRequest(f *testing.F) {
	for _, c := range []bool{false, true} {
		s, _ := EncodeJoinRequest(sampleJoinRequest(), c)
		f.Add(s)
	}
	f.Add("")
	f.Add("CAE=")
	f.Add("CAESAA")
	f.Fuzz(func(t *testing.T, s string) {
		jr, err := DecodeJoinRequest(s)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("error %v does not wrap ErrBadRequest", err)
			}
			return
		}
		again, err := EncodeJoinRequest(jr, true)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeJoinRequest(again); err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
	})
}
