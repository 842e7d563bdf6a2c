package media

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Header extension URIs the SFU negotiates beyond those pion names in sdp.
const (
	dependencyDescriptorURI = "https://aomedia.org/av1-rtp-spec/#dependency-descriptor-rtp-header-extension"
	videoOrientationURI     = "urn:3gpp:video-orientation"
	playoutDelayURI         = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay"
)

// Codec parameters the SFU offers and accepts. Payload types follow pion's and
// Chrome's customary numbering so SDP diffs stay readable.
func videoFeedback() []webrtc.RTCPFeedback {
	return []webrtc.RTCPFeedback{
		{Type: webrtc.TypeRTCPFBGoogREMB},
		{Type: webrtc.TypeRTCPFBTransportCC},
		{Type: webrtc.TypeRTCPFBCCM, Parameter: "fir"},
		{Type: webrtc.TypeRTCPFBNACK},
		{Type: webrtc.TypeRTCPFBNACK, Parameter: "pli"},
	}
}

// Codecs returns the codecs ConfigureMediaEngine registers for kind, in
// preference order, each video codec's RTX after the media codecs. Callers
// use it to fill DownTrackParams.Codecs.
func Codecs(kind webrtc.RTPCodecType) []webrtc.RTPCodecParameters {
	if kind == webrtc.RTPCodecTypeAudio {
		return []webrtc.RTPCodecParameters{{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
				SDPFmtpLine:  "minptime=10;useinbandfec=1",
				RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
			},
			PayloadType: 111,
		}}
	}
	fb := videoFeedback()
	video := func(mime, fmtp string, pt webrtc.PayloadType) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: fb},
			PayloadType:        pt,
		}
	}
	const h264 = "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id="
	media := []webrtc.RTPCodecParameters{
		video(webrtc.MimeTypeVP8, "", 96),
		video(webrtc.MimeTypeH264, h264+"42e01f", 106), // constrained baseline
		video(webrtc.MimeTypeH264, h264+"42001f", 102), // baseline
		video(webrtc.MimeTypeH264, h264+"4d001f", 127), // main
		video(webrtc.MimeTypeH264, h264+"64001f", 112), // high
		video(webrtc.MimeTypeVP9, "profile-id=0", 98),
		video(webrtc.MimeTypeAV1, "", 45),
	}
	out := media
	for _, c := range media { // RTX (RFC 4588) for each, on the next payload type
		pt := c.PayloadType + 1
		if c.PayloadType == 127 {
			pt = 125
		}
		out = append(out, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", c.PayloadType),
			},
			PayloadType: pt,
		})
	}
	return out
}

// ConfigureMediaEngine registers the codecs (Opus; VP8, H.264 constrained
// baseline/baseline/main/high with packetization-mode=1, VP9 profile 0, AV1,
// each video codec with RTX) and the header extensions the SFU negotiates on
// every PeerConnection it creates. m must be fresh (not yet used by an API).
func ConfigureMediaEngine(m *webrtc.MediaEngine) error {
	return ConfigureMediaEngineWith(m, nil)
}

// ConfigureMediaEngineWith is ConfigureMediaEngine registering only the codecs allow
// accepts by MIME type (nil allows all; RTX follows the codec it repairs). A room limited to
// H.264 (a recorded class) so never negotiates VP8 with its publishers.
func ConfigureMediaEngineWith(m *webrtc.MediaEngine, allow func(mime string) bool) error {
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		allowedPT := map[uint8]bool{}
		for _, c := range Codecs(kind) {
			if allow != nil && !strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) && !allow(c.MimeType) {
				continue
			}
			if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) && allow != nil && !allowedPT[rtxApt(c.SDPFmtpLine)] {
				continue
			}
			allowedPT[uint8(c.PayloadType)] = true
			if err := m.RegisterCodec(c, kind); err != nil {
				return fmt.Errorf("register codec %s/%d: %w", c.MimeType, c.PayloadType, err)
			}
		}
	}
	exts := []struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}{
		{sdp.AudioLevelURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}},
		{sdp.SDESMidURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
		{sdp.SDESRTPStreamIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{sdp.SDESRepairRTPStreamIDURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{sdp.ABSSendTimeURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{sdp.TransportCCURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}},
		{videoOrientationURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{playoutDelayURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
		{dependencyDescriptorURI, []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}},
	}
	for _, e := range exts {
		for _, k := range e.kinds {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, k); err != nil {
				return fmt.Errorf("register header extension %s: %w", e.uri, err)
			}
		}
	}
	return nil
}

// ConfigureInterceptors registers the interceptors of every SFU
// PeerConnection, in this order:
//
//   - RTCP receiver and sender reports (pion report), so publishers learn
//     loss/jitter and subscribers can compute RTT and A/V sync; sender
//     reports count only the media SSRC, not the RTX packets a DownTrack
//     writes through the same stream (mainStreamOnly);
//   - TWCC feedback for incoming streams (pion twcc sender), so publishers'
//     congestion control works;
//   - transport-wide sequence numbers on outgoing packets and the send-side
//     bandwidth estimator fed by the subscriber's transport-cc feedback, in
//     one interceptor of our own (Estimator: no allocation or lock per
//     packet, unlike pion's twcc header extension + cc + gcc, which cost
//     about 10% of the SFU's CPU and two allocations per packet and
//     subscriber). Its estimate feeds the subscriber's Allocator;
//     onEstimator is called synchronously from webrtc.API.NewPeerConnection
//     with pion's PeerConnection id and the estimator (an *Estimator). As
//     that id is not visible on the PeerConnection, build one webrtc.API per
//     PeerConnection to know which estimator is whose.
//
// Deliberately absent: pion's NACK generator and responder. NACKs upstream are
// generated by the Receiver's buffer (one per layer, shared by all
// subscribers, batched with retry limits), and subscribers' NACKs are answered
// by the DownTrack from that same buffer, so a responder would only keep a
// second copy of every packet per subscriber. The nack/pli feedback types are
// still negotiated (they are part of Codecs).
func ConfigureInterceptors(m *webrtc.MediaEngine, r *interceptor.Registry, onEstimator func(id string, est cc.BandwidthEstimator)) error {
	recv, err := report.NewReceiverInterceptor()
	if err != nil {
		return fmt.Errorf("receiver reports: %w", err)
	}
	r.Add(recv)
	sender, err := report.NewSenderInterceptor()
	if err != nil {
		return fmt.Errorf("sender reports: %w", err)
	}
	r.Add(mainStreamOnlyFactory{sender}) // RTX packets stay out of the media SSRC's reports
	if err := webrtc.ConfigureTWCCSender(m, r); err != nil {
		return fmt.Errorf("twcc sender: %w", err)
	}
	// Transport-wide sequence numbers on every outgoing stream and the
	// bandwidth estimator fed by the subscriber's feedback, in one
	// interceptor of our own (see Estimator). Registered last, it is the
	// first to see an outgoing packet.
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
			return fmt.Errorf("transport-cc header extension: %w", err)
		}
	}
	r.Add(&twccFactory{onEstimator: onEstimator})
	return nil
}

// ConfigureSubscriberInterceptors registers the interceptors of a PeerConnection
// that only sends media (an SFU subscriber PC): sender reports and the
// Estimator (transport-wide sequence numbers, bandwidth estimate), as in
// ConfigureInterceptors, but not pion's receiver reports and TWCC feedback
// generator, which serve incoming streams. A subscriber PC has none, yet
// pion's receiver-report interceptor parses every RTCP datagram the subscriber
// sends (about 20 transport-cc feedback packets a second from a browser) into
// objects looking for sender reports; without it, feedback reaches the
// Estimator as raw bytes and is never parsed into objects (see
// OnlyTransportFeedback).
func ConfigureSubscriberInterceptors(m *webrtc.MediaEngine, r *interceptor.Registry, onEstimator func(id string, est cc.BandwidthEstimator)) error {
	sender, err := report.NewSenderInterceptor()
	if err != nil {
		return fmt.Errorf("sender reports: %w", err)
	}
	r.Add(mainStreamOnlyFactory{sender}) // RTX packets stay out of the media SSRC's reports
	for _, k := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, k); err != nil {
			return fmt.Errorf("transport-cc header extension: %w", err)
		}
	}
	r.Add(&twccFactory{onEstimator: onEstimator})
	return nil
}

// OnlyTransportFeedback reports whether the (compound) RTCP datagram b holds
// nothing but transport-cc feedback, which the Estimator consumed already:
// the session layer then need not parse it for a DownTrack (HandleRTCP
// ignores such feedback). Malformed datagrams report false (let the parser
// decide).
func OnlyTransportFeedback(b []byte) bool {
	if len(b) < 4 {
		return false
	}
	for len(b) >= 4 {
		if b[0]>>6 != 2 || b[1] != rtcpTypeRTPFB || b[0]&0x1f != rtcpFmtTWCC {
			return false
		}
		n := (int(b[2])<<8 | int(b[3]) + 1) * 4
		if n > len(b) {
			return false
		}
		b = b[n:]
	}
	return len(b) == 0
}

// Bandwidth estimator bounds (bits per second).
const (
	estimateInitial = 1_000_000
	estimateMin     = 100_000
	estimateMax     = 20_000_000
)

// rtxApt is the payload type an RTX codec repairs (its fmtp "apt=").
func rtxApt(fmtp string) uint8 {
	for _, kv := range strings.Split(fmtp, ";") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(kv), "apt="); ok {
			n, _ := strconv.Atoi(v)
			return uint8(n)
		}
	}
	return 0
}
