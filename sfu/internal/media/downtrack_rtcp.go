package media

import (
	"time"

	"github.com/atrium-live/atrium/sfu/internal/vp8"
	"github.com/atrium-live/atrium/sfu/internal/vp9"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// HandleRTCP consumes RTCP the subscriber sent for this track (the session
// layer reads it from the RTPSender): NACKs are answered from the shared
// buffer, PLI/FIR are forwarded upstream (throttled per layer), receiver
// reports update Stats, REMB feeds the subscriber's Allocator.
func (d *DownTrack) HandleRTCP(pkts []rtcp.Packet) {
	b := d.bound.Load()
	if b == nil || d.closed.Load() {
		return
	}
	for _, pkt := range pkts {
		switch p := pkt.(type) {
		case *rtcp.TransportLayerNack:
			if p.MediaSSRC != b.ssrc {
				continue
			}
			for _, pair := range p.Nacks {
				d.retransmit(b, pair.PacketID)
				for i := uint16(0); i < 16; i++ {
					if pair.LostPackets&(1<<i) != 0 {
						d.retransmit(b, pair.PacketID+i+1)
					}
				}
			}
		case *rtcp.PictureLossIndication:
			if p.MediaSSRC == b.ssrc {
				d.keyframeRequested()
			}
		case *rtcp.FullIntraRequest:
			if p.MediaSSRC == b.ssrc {
				d.keyframeRequested()
			}
		case *rtcp.ReceiverReport:
			d.receiverReport(b, p.Reports)
		case *rtcp.SenderReport:
			d.receiverReport(b, p.Reports)
		case *rtcp.ReceiverEstimatedMaximumBitrate:
			d.mu.Lock()
			a := d.alloc
			d.mu.Unlock()
			if a != nil {
				a.SetREMB(int(p.Bitrate))
			}
		}
	}
}

func (d *DownTrack) keyframeRequested() {
	d.plis.Add(1)
	if m := d.r.p.Metrics; m != nil {
		m.PLIsRecv.Inc()
	}
	d.mu.Lock()
	l := d.fwd.CurrentLayer()
	if l < 0 {
		l = d.fwd.TargetLayer()
	}
	d.mu.Unlock()
	d.requestKeyframe(d.r.availableLayer(l))
}

// retransmit resends the packet the subscriber knows as seq from the shared
// buffer, rewritten exactly as it was first sent: as RTX on the repair SSRC
// when the subscriber negotiated it (rtx.go), else on the media SSRC.
func (d *DownTrack) retransmit(b *binding, seq uint16) {
	d.nacks.Add(1)
	if m := d.r.p.Metrics; m != nil {
		m.NacksRecv.Inc()
	}
	now := d.r.now()
	d.mu.Lock()
	o, ok := d.fwd.Lookup(seq)
	gap, top := d.svcGap(seq), d.svcTop()
	// The subscriber repeats a NACK until the packet arrives; a resend
	// already on its way answers the repeats that cross it.
	slot := &d.resent[seq%uint16(len(d.resent))]
	switch {
	case !ok:
	case slot.at != 0 && slot.seq == seq && (now-slot.at < resendGuard || slot.n >= maxResends):
		ok = false
	case slot.at != 0 && slot.seq == seq:
		slot.at, slot.n = now, slot.n+1
	default:
		*slot = resend{seq: seq, n: 1, at: now}
	}
	d.mu.Unlock()
	if !ok {
		return
	}
	l, err := d.r.layer(o.Layer)
	if err != nil {
		return
	}
	s := d.retransPool.Get().(*scratch)
	defer d.retransPool.Put(s)
	n, ok := l.buf.Copy(o.ExtSeq, s.data)
	if !ok {
		return
	}
	var in rtp.Header
	hl, err := in.Unmarshal(s.data[:n])
	if err != nil {
		return
	}
	body := s.data[hl:n]
	var pad byte
	if in.Padding && len(body) > 0 {
		pad = body[len(body)-1]
		if int(pad) > len(body) {
			return
		}
		body = body[:len(body)-int(pad)]
	}
	if d.r.isVP8 {
		if desc, ok := vp8.Parse(body); ok {
			body = mungeVP8(s.pay, body, desc, (desc.PictureID-o.PicOffset)&desc.PictureIDMask(), desc.TL0PicIdx-o.TL0Offset)
		}
	}
	var abs [3]byte
	putAbsSendTime(&abs, time.Now())
	out := outHdr{ssrc: b.ssrc, pt: b.pt, seq: seq, ts: in.Timestamp - o.TSOffset, marker: in.Marker}
	if gap {
		// The subscriber got padding in place of a layer it does not receive.
		body, pad, out.marker = nil, svcGapPadding, false
	} else if d.r.isVP9 {
		if desc, ok := vp9.Parse(body); ok && desc.HasLayers {
			out.marker = in.Marker || (desc.End && desc.Spatial == top)
		}
	}
	rtx := b.rtxSSRC != 0
	if rtx {
		// RFC 4588 §4: own SSRC, payload type and numbering; the original
		// (subscriber-side) sequence number leads the payload.
		out.ssrc, out.pt, out.seq = b.rtxSSRC, b.rtxPT, uint16(b.rtxSeq.Add(1))
		body = rtxPayload(s.rtx, seq, body)
	}
	w, err := d.send(s, b, &in, body, pad, out, &abs)
	if err != nil {
		d.log.Debug("retransmit", "seq", seq, "err", err)
		return
	}
	d.retransmits.Add(1)
	d.packets.Add(1)
	d.bytes.Add(uint64(w))
	if rtx {
		d.rtxPackets.Add(1)
	}
	if m := d.r.p.Metrics; m != nil {
		m.Retransmits.Inc()
		if rtx {
			m.RTXSent.Inc()
		}
		m.PacketsOut.Inc()
		m.BytesOut.Add(float64(w))
	}
}

// receiverReport records loss, jitter and RTT (RFC 3550 §6.4.1: RTT = now -
// LSR - DLSR in NTP short format) for the DownTrack's SSRC.
func (d *DownTrack) receiverReport(b *binding, reports []rtcp.ReceptionReport) {
	for _, rr := range reports {
		if rr.SSRC != b.ssrc {
			continue
		}
		d.fractionLost.Store(uint32(rr.FractionLost))
		d.jitter.Store(int64(rr.Jitter))
		if rr.LastSenderReport != 0 {
			now := ntpShort(time.Now())
			if rtt := now - rr.LastSenderReport - rr.Delay; int32(rtt) > 0 {
				d.rtt.Store(int64(rtt) * int64(time.Second) >> 16)
			}
		}
	}
}

// ntpShort is the middle 32 bits of the NTP timestamp of t (RFC 3550 §4).
func ntpShort(t time.Time) uint32 {
	const ntpEpochOffset = 2208988800
	ns := t.UnixNano()
	sec := uint64(ns/1e9) + ntpEpochOffset
	frac := (uint64(ns%1e9) << 32) / 1e9
	return uint32(sec<<16) | uint32(frac>>16)
}
