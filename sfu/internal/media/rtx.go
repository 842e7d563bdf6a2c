package media

import (
	"strings"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// RTX (RFC 4588): a subscriber that negotiated the "rtx" codec for the codec it receives gets
// retransmissions on a stream of their own (session multiplexing, §4): its own SSRC (the
// second of the sender's "a=ssrc-group:FID"), its own sequence numbers, the RTX payload
// type, and a payload made of the original sequence number (OSN, §4) followed by the
// original payload. The receiver tells repairs from late originals, and its loss and
// bitrate statistics keep them apart, as libwebrtc's do for its own sender.

// rtxPayload writes the RTX payload for a packet whose (subscriber-side) sequence number is
// osn into dst and returns it: the OSN in network order, then payload. dst must hold
// len(payload)+2 bytes; nothing is allocated.
func rtxPayload(dst []byte, osn uint16, payload []byte) []byte {
	dst[0], dst[1] = byte(osn>>8), byte(osn)
	n := copy(dst[2:], payload)
	return dst[:2+n]
}

// rtxPayloadType returns the payload type of the RTX codec repairing apt in codecs (an
// "apt=<apt>" fmtp, RFC 4588 §8.1), or 0 when none was negotiated.
func rtxPayloadType(codecs []webrtc.RTPCodecParameters, apt webrtc.PayloadType) uint8 {
	for _, c := range codecs {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) && rtxApt(c.SDPFmtpLine) == uint8(apt) && apt != 0 {
			return uint8(c.PayloadType)
		}
	}
	return 0
}

// rtxCodecFor returns, from codecs, the RTX codec whose apt is pt.
func rtxCodecFor(codecs []webrtc.RTPCodecParameters, pt webrtc.PayloadType) (webrtc.RTPCodecParameters, bool) {
	for _, c := range codecs {
		if strings.EqualFold(c.MimeType, webrtc.MimeTypeRTX) && rtxApt(c.SDPFmtpLine) == uint8(pt) {
			return c, true
		}
	}
	return webrtc.RTPCodecParameters{}, false
}

// mainStreamOnly wraps an interceptor (pion's sender reports) so that its local streams see
// only their media SSRC's packets. The DownTrack writes RTX packets through the media
// stream's writer (pion binds one writer per sender encoding); counted by the sender-report
// interceptor they would put the repair stream's packets and octets into the media SSRC's
// sender report, and an old retransmitted timestamp could become its RTP/NTP reference,
// which receivers use for audio/video sync.
type mainStreamOnly struct {
	interceptor.Interceptor
}

// mainStreamOnlyFactory builds mainStreamOnly around the interceptors of inner.
type mainStreamOnlyFactory struct {
	inner interceptor.Factory
}

func (f mainStreamOnlyFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	i, err := f.inner.NewInterceptor(id)
	if err != nil {
		return nil, err
	}
	return mainStreamOnly{i}, nil
}

// BindLocalStream passes packets of other SSRCs around the wrapped interceptor.
func (m mainStreamOnly) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	inner := m.Interceptor.BindLocalStream(info, writer)
	ssrc := info.SSRC
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
		if h.SSRC != ssrc {
			return writer.Write(h, payload, a)
		}
		return inner.Write(h, payload, a)
	})
}
