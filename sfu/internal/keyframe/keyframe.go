// Package keyframe tells, from the RTP payload alone, whether a packet starts
// a keyframe (a point where a decoder can begin). The SFU switches simulcast
// layers and resumes paused video only at such packets.
//
// All functions are pure, allocation-free and safe for concurrent use; they
// never panic on truncated or garbage payloads (they return false).
package keyframe

import "strings"

// Func reports whether an RTP payload starts a keyframe.
type Func func(payload []byte) bool

// ForMimeType returns the detector for a codec MIME type such as "video/VP8"
// (case-insensitive), or nil when the codec is unknown or not video.
func ForMimeType(mime string) Func {
	switch strings.ToLower(mime) {
	case "video/vp8":
		return VP8
	case "video/vp9":
		return VP9
	case "video/h264":
		return H264
	case "video/av1":
		return AV1
	}
	return nil
}

// VP8 detects the first packet of a VP8 key frame.
//
// Payload descriptor, RFC 7741 §4.2: byte 0 is X|R|N|S|R|PID; the optional
// extension byte I|L|T|K, then PictureID (1 or 2 bytes), TL0PICIDX, and
// TID|Y|KEYIDX. The VP8 payload header follows (§4.3) when S=1 and PID=0; its
// lowest bit P is 0 for a key frame (RFC 6386 §9.1).
func VP8(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	s := p[0]&0x10 != 0
	pid := p[0] & 0x07
	if !s || pid != 0 {
		return false
	}
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) <= i {
			return false
		}
		x := p[i]
		i++
		if x&0x80 != 0 { // I: PictureID
			if len(p) <= i {
				return false
			}
			if p[i]&0x80 != 0 { // M: 15-bit PictureID
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K: TID|Y|KEYIDX
			i++
		}
	}
	if len(p) <= i {
		return false
	}
	return p[i]&0x01 == 0
}

// H.264 NAL unit types, RFC 6184 §5.4 and ITU-T H.264 table 7-1.
const (
	nalIDR  = 5
	nalSPS  = 7
	nalSTAP = 24 // STAP-A
	nalFUA  = 28 // FU-A
)

// H264 detects a packet carrying an SPS or the start of an IDR slice, as a
// single NAL unit, inside a STAP-A aggregate (RFC 6184 §5.7.1), or as the first
// fragment of an FU-A (§5.8). Encoders send SPS/PPS right before an IDR, so the
// packet with the SPS is where a decoder can start.
func H264(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case nalIDR, nalSPS:
		return true
	case nalSTAP:
		for i := 1; i+2 < len(p); {
			size := int(p[i])<<8 | int(p[i+1])
			i += 2
			if size == 0 || i+size > len(p) {
				return false
			}
			switch p[i] & 0x1f {
			case nalIDR, nalSPS:
				return true
			}
			i += size
		}
		return false
	case nalFUA:
		if len(p) < 2 {
			return false
		}
		start := p[1]&0x80 != 0
		ft := p[1] & 0x1f
		return start && (ft == nalIDR || ft == nalSPS)
	}
	return false
}

// VP9 detects the first packet of a VP9 key frame on the base spatial layer.
//
// Payload descriptor (RFC 9628 §4.2): byte 0 is I|P|L|F|B|E|V|Z. P=0 means the
// frame is not inter-predicted, B=1 marks the start of a frame. With L=1 the
// layer-indices byte follows the PictureID and its bits 3..1 carry the
// spatial layer id, which must be 0 for a decoder to start.
func VP9(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	b0 := p[0]
	if b0&0x40 != 0 || b0&0x08 == 0 { // P set or B clear
		return false
	}
	i := 1
	if b0&0x80 != 0 { // I: PictureID
		if len(p) <= i {
			return false
		}
		if p[i]&0x80 != 0 {
			i++
		}
		i++
	}
	if b0&0x20 != 0 { // L: layer indices TID|U|SID|D
		if len(p) <= i {
			return false
		}
		if sid := (p[i] >> 1) & 0x07; sid != 0 {
			return false
		}
	}
	return true
}

// AV1 detects the first packet of a new coded video sequence, which the
// sender marks with N=1 in the aggregation header (AV1 RTP specification
// §4.4: Z|Y|W|W|N|-|-|-); a coded video sequence starts with a key frame.
func AV1(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	return p[0]&0x08 != 0
}
