package media

import (
	"github.com/atrium-live/atrium/sfu/internal/svc"
)

// VP9 SVC per subscriber. A scalable VP9 track is one RTP stream carrying
// every spatial and temporal layer (Chromium's L3T3_KEY); each subscriber
// gets the layers its requested size and bandwidth allow (min(maxLayer,
// allocated) as a spatial layer id, all temporal layers), chosen packet by
// packet by an svc.Selector from the VP9 payload descriptor, which the
// publisher's packetizer writes in the clear (end-to-end encryption
// included).
//
// A packet of a layer the subscriber does not get is sent as a padding-only
// packet (an RTP header, no payload) with the sequence number it would have
// had: numbering stays contiguous, so a NACK maps back through the
// Forwarder as for simulcast and a gap is never mistaken for loss.
// libwebrtc's receiver takes an empty packet as padding and assembles
// frames across it. It costs the RTP header (about 40 bytes with SRTP) per
// packet left out, instead of the payload.

// svcGapPadding is the padding length of a packet standing in for a dropped
// layer (RFC 3550 §5.1: the last padding octet counts the padding).
const svcGapPadding = 4

// svcGapWords is the size of the bitmap remembering which recent output
// sequence numbers were gaps, 64 per word: more than the receive buffer
// holds, so a NACK for an older gap finds no packet to resend anyway.
const svcGapWords = 1024 / 64

// selectSVC runs the subscriber's Selector on a VP9 packet the Forwarder
// decided to forward as seq, and records whether seq became a gap. d.mu is
// held.
func (d *DownTrack) selectSVC(p *packet, want int, seq uint16) svc.Decision {
	if d.svc == nil {
		d.svc = svc.New()
	}
	d.svc.SetTarget(want, svc.MaxTemporal-1)
	v := &p.vp9
	dec := d.svc.Select(svc.Packet{
		Spatial: v.Spatial, Temporal: v.Temporal, Start: v.Start, End: v.End,
		Keyframe: p.keyframe, SwitchUp: v.SwitchUp, Marker: p.hdr.Marker,
	})
	i := seq % (svcGapWords * 64)
	if dec.Forward {
		d.svcGaps[i/64] &^= 1 << (i % 64)
	} else {
		d.svcGaps[i/64] |= 1 << (i % 64)
	}
	return dec
}

// svcGap reports whether seq was sent as padding in place of a dropped
// layer. d.mu is held.
func (d *DownTrack) svcGap(seq uint16) bool {
	if d.svc == nil {
		return false
	}
	i := seq % (svcGapWords * 64)
	return d.svcGaps[i/64]&(1<<(i%64)) != 0
}

// svcTop is the highest spatial layer being forwarded (-1 without SVC).
// d.mu is held.
func (d *DownTrack) svcTop() int {
	if d.svc == nil {
		return -1
	}
	s, _ := d.svc.Current()
	return s
}

// SpatialLayer returns the highest VP9 spatial layer the subscriber is
// receiving, -1 for a track without spatial layers or before its first
// keyframe.
func (d *DownTrack) SpatialLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.svcTop()
}

// spatialRates returns, for a VP9 SVC track, what receiving up to each
// spatial layer costs (bit/s, cumulative: a layer needs those below it), from
// the stream carrying the spatial layers; ok is false for other tracks. A
// layer not sent costs what the one below does, one not yet measured its
// simulcast default.
func (r *Receiver) spatialRates() (rates [MaxLayers]int, ok bool) {
	if !r.svc.Load() {
		return rates, false
	}
	for i := range r.layers {
		l := r.layers[i].Load()
		if l == nil || r.now()-l.lastArrival.Load() >= layerActiveFor {
			continue
		}
		sum := 0
		for s := range MaxLayers {
			rate := int(l.spatialRate[s].Load())
			if rate <= 0 && s == 0 && l.bitrate.Load() == 0 {
				rate = defaultLayerRate(0)
			}
			sum += rate
			rates[s] = sum
		}
		return rates, true
	}
	return rates, false
}
