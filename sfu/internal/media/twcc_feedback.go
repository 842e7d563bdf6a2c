package media

import (
	"encoding/binary"
	"errors"
)

// errTWCCFeedback reports a malformed transport-wide congestion control
// feedback packet.
var errTWCCFeedback = errors.New("media: malformed transport-cc feedback")

// twccAck is one packet's fate in a transport-cc feedback packet.
type twccAck struct {
	seq      uint16
	received bool
	arrival  int64 // µs on the receiver's clock (reference time based); valid when received
}

// twccFeedback is the part of a transport-cc feedback packet the estimator
// uses.
type twccFeedback struct {
	baseSeq uint16
	count   uint16 // packet status count
	fbCount uint8  // feedback packet count
}

// RTCP constants for transport-cc feedback
// (draft-holmer-rmcat-transport-wide-cc-extensions-01 §3.1).
const (
	rtcpTypeRTPFB   = 205
	rtcpFmtTWCC     = 15
	twccFixedLength = 20  // common header, two SSRCs, base seq, count, reference time, fb count
	twccDeltaUnit   = 250 // µs per receive delta tick
	twccRefUnit     = 64000
)

// forEachTWCC calls fn with the body of every transport-cc feedback packet in
// the (compound) RTCP packet b; other RTCP packets are skipped without being
// parsed. It stops at the first malformed header.
func forEachTWCC(b []byte, fn func(pkt []byte)) {
	for len(b) >= 4 {
		if b[0]>>6 != 2 {
			return
		}
		n := (int(binary.BigEndian.Uint16(b[2:4])) + 1) * 4
		if n > len(b) {
			return
		}
		if b[1] == rtcpTypeRTPFB && b[0]&0x1f == rtcpFmtTWCC {
			fn(b[:n])
		}
		b = b[n:]
	}
}

// parseTWCC decodes one transport-cc feedback packet (the full RTCP packet,
// header included) without allocating beyond acks' capacity: it appends one
// twccAck per reported packet, in sequence order, to acks[:0] and returns it.
// Arrival times are absolute µs on the receiver's clock: reference time ×
// 64 ms plus the running sum of receive deltas (§3.1.5, §3.1.6).
func parseTWCC(pkt []byte, acks []twccAck) (twccFeedback, []twccAck, error) {
	acks = acks[:0]
	if len(pkt) < twccFixedLength {
		return twccFeedback{}, acks, errTWCCFeedback
	}
	if pkt[0]&0x20 != 0 { // padding: the last octet counts the padding octets
		p := int(pkt[len(pkt)-1])
		if p == 0 || p > len(pkt)-twccFixedLength {
			return twccFeedback{}, acks, errTWCCFeedback
		}
		pkt = pkt[:len(pkt)-p]
	}
	fb := twccFeedback{
		baseSeq: binary.BigEndian.Uint16(pkt[12:14]),
		count:   binary.BigEndian.Uint16(pkt[14:16]),
		fbCount: pkt[19],
	}
	ref := int64(int32(binary.BigEndian.Uint32(pkt[16:20]))>>8) * twccRefUnit // 24-bit signed
	body := pkt[twccFixedLength:]

	// First pass: find where the chunks end (and the receive deltas begin).
	chunks, covered := 0, 0
	for covered < int(fb.count) {
		if 2*chunks+2 > len(body) {
			return fb, acks, errTWCCFeedback
		}
		covered += chunkLen(binary.BigEndian.Uint16(body[2*chunks:]))
		chunks++
	}
	deltas := body[2*chunks:]

	// Second pass: one status per packet, consuming deltas for received ones.
	at, seq, left := ref, fb.baseSeq, int(fb.count)
	for c := 0; c < chunks && left > 0; c++ {
		chunk := binary.BigEndian.Uint16(body[2*c:])
		n := min(chunkLen(chunk), left)
		for i := range n {
			sym := chunkSymbol(chunk, i)
			a := twccAck{seq: seq}
			switch sym {
			case 1: // small delta, one octet, unsigned
				if len(deltas) < 1 {
					return fb, acks, errTWCCFeedback
				}
				at += int64(deltas[0]) * twccDeltaUnit
				deltas = deltas[1:]
				a.received, a.arrival = true, at
			case 2: // large or negative delta, two octets, signed
				if len(deltas) < 2 {
					return fb, acks, errTWCCFeedback
				}
				at += int64(int16(binary.BigEndian.Uint16(deltas))) * twccDeltaUnit
				deltas = deltas[2:]
				a.received, a.arrival = true, at
			case 3:
				return fb, acks, errTWCCFeedback // reserved
			}
			acks = append(acks, a)
			seq++
		}
		left -= n
	}
	return fb, acks, nil
}

// chunkLen is the number of packet statuses a packet status chunk carries
// (§3.1.3 run length chunk, §3.1.4 status vector chunk).
func chunkLen(c uint16) int {
	switch {
	case c&0x8000 == 0:
		return int(c & 0x1fff) // run length
	case c&0x4000 == 0:
		return 14 // one-bit symbols
	default:
		return 7 // two-bit symbols
	}
}

// chunkSymbol is the i-th status of chunk: 0 not received, 1 small delta,
// 2 large or negative delta, 3 reserved.
func chunkSymbol(c uint16, i int) uint16 {
	switch {
	case c&0x8000 == 0:
		return (c >> 13) & 3
	case c&0x4000 == 0:
		return (c >> (13 - i)) & 1
	default:
		return (c >> (12 - 2*i)) & 3
	}
}
