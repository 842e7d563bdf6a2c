package media

import (
	"strings"

	"github.com/atrium-live/atrium/sfu/internal/forwarder"
	"github.com/pion/webrtc/v4"
)

// CodecPreferences returns, from DownTrackParams.Codecs, the codec matching
// the publisher's and the RTX codec repairing it (RFC 4588, when Codecs has
// one): pass it to RTPTransceiver.SetCodecPreferences so that the subscriber
// negotiates a codec the DownTrack can forward, and RTX if it supports it
// (browsers do). Empty when nothing matches.
//
// With RTX negotiated, the DownTrack answers NACKs on the repair SSRC (see
// rtx.go); without it, on the media SSRC (RFC 4585 repair).
func (d *DownTrack) CodecPreferences() []webrtc.RTPCodecParameters {
	c, ok := matchCodec(d.r.p.Codec, d.p.Codecs)
	if !ok {
		return nil
	}
	out := []webrtc.RTPCodecParameters{c}
	if rtx, ok := rtxCodecFor(d.p.Codecs, c.PayloadType); ok && d.r.kind == forwarder.Video {
		out = append(out, rtx)
	}
	return out
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
