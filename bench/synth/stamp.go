// Package synth generates synthetic media that an SFU cannot tell from a camera and a
// microphone: Opus packets every 20 ms, and VP8 or H.264 frames with a real frame structure
// (a valid keyframe every N seconds and on request, delta frames in between, RTP marker on
// the last packet of a frame) packetized as RFC 7741 / RFC 6184 say.
//
// Every payload ends with a 16-byte Stamp (per-stream sequence, simulcast layer, wall-clock
// send time, magic) so that a receiver on the same machine measures one-way latency and
// counts loss exactly. The stamp lives inside the codec payload, after a valid codec header,
// so it survives any SFU that forwards payloads untouched, as every SFU does.
package synth

import (
	"encoding/binary"
	"time"
)

// StampSize is the number of bytes a Stamp occupies at the end of every payload.
const StampSize = 16

const stampMagic = 0xA7B1

// Stamp is what the sender writes at the end of each payload.
type Stamp struct {
	Seq   uint32    // per stream (per simulcast layer), starts at 0, +1 per packet
	Layer uint8     // simulcast layer 0..2 (0 without simulcast)
	Flags uint8     // FlagKeyframe, FlagAudio
	Sent  time.Time // wall clock when the packet was handed to the transport
}

// Stamp flags.
const (
	FlagKeyframe = 1 << 0
	FlagAudio    = 1 << 1
)

// PutStamp writes s into the last StampSize bytes of payload, which must be at least
// StampSize long (generators reserve them).
func PutStamp(payload []byte, s Stamp) {
	b := payload[len(payload)-StampSize:]
	binary.BigEndian.PutUint32(b[0:4], s.Seq)
	b[4] = s.Layer
	b[5] = s.Flags
	binary.BigEndian.PutUint64(b[6:14], uint64(s.Sent.UnixNano()))
	binary.BigEndian.PutUint16(b[14:16], stampMagic)
}

// ReadStamp reads the stamp at the end of payload; ok is false when there is none.
func ReadStamp(payload []byte) (s Stamp, ok bool) {
	if len(payload) < StampSize {
		return Stamp{}, false
	}
	b := payload[len(payload)-StampSize:]
	if binary.BigEndian.Uint16(b[14:16]) != stampMagic {
		return Stamp{}, false
	}
	return Stamp{
		Seq:   binary.BigEndian.Uint32(b[0:4]),
		Layer: b[4],
		Flags: b[5],
		Sent:  time.Unix(0, int64(binary.BigEndian.Uint64(b[6:14]))),
	}, true
}

// RTPPayload returns the payload of a raw RTP packet (RFC 3550 §5.1: after the CSRCs and
// the header extension, before any padding), without allocating. ok is false for a
// malformed packet or one with an empty payload (padding-only probes).
func RTPPayload(pkt []byte) (payload []byte, ok bool) {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return nil, false
	}
	off := 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 { // extension
		if len(pkt) < off+4 {
			return nil, false
		}
		off += 4 + 4*int(binary.BigEndian.Uint16(pkt[off+2:off+4]))
	}
	end := len(pkt)
	if pkt[0]&0x20 != 0 { // padding
		if end == 0 {
			return nil, false
		}
		end -= int(pkt[end-1])
	}
	if off >= end {
		return nil, false
	}
	return pkt[off:end], true
}
