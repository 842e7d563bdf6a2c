package synth

import "time"

// Opus produces one Opus packet per 20 ms frame (RFC 7587). The zero value is not usable:
// call NewOpus.
type Opus struct {
	payload []byte
}

// OpusFrameDuration is the packet interval of a WebRTC Opus stream.
const OpusFrameDuration = 20 * time.Millisecond

// OpusClockRate is Opus' RTP clock rate (RFC 7587 §4.1); 20 ms is 960 ticks.
const (
	OpusClockRate     = 48000
	OpusTicksPerFrame = OpusClockRate / 50
)

// NewOpus returns a generator of packets of about bitrate bits per second (typical speech:
// 24000-32000).
func NewOpus(bitrate int) *Opus {
	size := max(bitrate/8/50, StampSize+8)
	p := make([]byte, size)
	// TOC byte (RFC 6716 §3.1): config 31 (CELT-only, fullband, 20 ms), mono, code 0
	// (one frame in the packet).
	p[0] = 31 << 3
	for i := 1; i < size-StampSize; i++ {
		p[i] = byte(i*7 + 3)
	}
	return &Opus{payload: p}
}

// Next returns the payload of the next packet; its last StampSize bytes are for PutStamp.
// The slice is reused by the next call.
func (o *Opus) Next() []byte { return o.payload }
