package media

import (
	"strings"

	"github.com/pion/webrtc/v4"
)

// CodecPreferences returns, from DownTrackParams.Codecs, the codec matching
// the publisher's: pass it to RTPTransceiver.SetCodecPreferences so that the
// subscriber negotiates a codec the DownTrack can forward. Empty when nothing
// matches.
//
// RTX is deliberately left out: the DownTrack retransmits on the main SSRC
// (RFC 4585 NACK repair without RFC 4588), because an RTX stream written
// through pion's interceptor chain would not be a stream pion knows and
// would corrupt the RTP/NTP mapping of the main stream's sender reports
// (A/V sync). Publishers still negotiate RTX (ConfigureMediaEngine), and
// pion unwraps it.
func (d *DownTrack) CodecPreferences() []webrtc.RTPCodecParameters {
	c, ok := matchCodec(d.r.p.Codec, d.p.Codecs)
	if !ok {
		return nil
	}
	return []webrtc.RTPCodecParameters{c}
}

// matchCodec finds in list the codec the publisher's pub can be forwarded as:
// same MIME type and, for H.264, the same profile and packetization mode.
func matchCodec(pub webrtc.RTPCodecParameters, list []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var fallback *webrtc.RTPCodecParameters
	for i, c := range list {
		if !strings.EqualFold(c.MimeType, pub.MimeType) {
			continue
		}
		if !strings.EqualFold(pub.MimeType, webrtc.MimeTypeH264) {
			return c, true
		}
		if h264Compatible(pub.SDPFmtpLine, c.SDPFmtpLine) {
			return c, true
		}
		if fallback == nil {
			fallback = &list[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// h264Compatible compares profile (profile_idc and constraint flags, the first
// four hex digits of profile-level-id) and packetization-mode, RFC 6184 §8.1.
func h264Compatible(a, b string) bool {
	pa, ma := h264Params(a)
	pb, mb := h264Params(b)
	return pa == pb && ma == mb
}

func h264Params(fmtp string) (profile, mode string) {
	mode = "0"
	for _, kv := range strings.Split(fmtp, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
		switch strings.ToLower(k) {
		case "profile-level-id":
			if len(v) >= 4 {
				profile = strings.ToLower(v[:4])
			}
		case "packetization-mode":
			mode = v
		}
	}
	return profile, mode
}
