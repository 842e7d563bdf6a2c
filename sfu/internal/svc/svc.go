// Package svc decides, packet by packet, which spatial and temporal layers of
// one scalable video stream (VP9 SVC as Chromium sends it, e.g. L3T3_KEY) a
// subscriber receives. Like package forwarder it is pure: no I/O, no clock,
// every decision reproducible from a table.
//
// The rules follow from how the layers depend on each other (RFC 9628 §4.2
// for VP9's signalling, the W3C scalability modes for the structures):
//   - a layer frame may be dropped only together with every layer above it:
//     upper spatial layers predict from lower ones (always in a keyframe,
//     and in every picture in the L*T* modes), never the other way round;
//   - going down (spatial or temporal) is possible at any picture start,
//     since what stays never referenced what goes;
//   - going up spatially needs a keyframe (the new layer's references were
//     not sent; Chromium's K-SVC modes refresh upper layers only there);
//   - going up temporally needs a switching-up point (U) or a keyframe;
//   - the RTP marker, which ends a picture for the receiver, must be on the
//     last packet of the highest spatial layer forwarded, not of the highest
//     the publisher sent.
package svc

import "fmt"

// MaxSpatial and MaxTemporal bound the layer ids (VP9 allows 8 of each, in
// three bits; Chromium sends at most 3).
const (
	MaxSpatial  = 8
	MaxTemporal = 8
)

// Packet is what the Selector needs to know about one RTP packet.
type Packet struct {
	Spatial, Temporal int
	Start, End        bool // first / last packet of its layer frame
	Keyframe          bool // first packet of a keyframe picture (base layer, not predicted)
	SwitchUp          bool // temporal switching-up point (VP9 U bit)
	Marker            bool // the packet's RTP marker as sent
}

// String formats a packet for test messages.
func (p Packet) String() string {
	return fmt.Sprintf("{S%dT%d b=%t e=%t k=%t u=%t m=%t}", p.Spatial, p.Temporal, p.Start, p.End, p.Keyframe, p.SwitchUp, p.Marker)
}

// Decision is what to do with one packet.
type Decision struct {
	Forward bool
	Marker  bool // RTP marker to send (valid when Forward)
	// NeedKeyframe asks the caller to request a keyframe (throttled by the
	// caller): a spatial layer above the current one is wanted, or nothing
	// was forwarded yet.
	NeedKeyframe bool
	// Switched is set when the layers being forwarded changed at this packet.
	Switched bool
}

// String formats a decision for test messages.
func (d Decision) String() string {
	if !d.Forward {
		return fmt.Sprintf("drop(kf=%t)", d.NeedKeyframe)
	}
	return fmt.Sprintf("fwd(m=%t kf=%t sw=%t)", d.Marker, d.NeedKeyframe, d.Switched)
}

// Selector holds one subscriber's layer state for one stream. Not safe for
// concurrent use. The zero value is not usable: call New.
type Selector struct {
	curS, curT int // layers being forwarded, -1 before the first keyframe
	tgtS, tgtT int // layers wanted
}

// New returns a Selector wanting every layer and forwarding nothing until
// the first keyframe.
func New() *Selector {
	return &Selector{curS: -1, curT: -1, tgtS: MaxSpatial - 1, tgtT: MaxTemporal - 1}
}

// SetTarget sets the highest spatial and temporal layers wanted. Lowering
// takes effect at the next picture start, raising at the next keyframe
// (spatial) or switching point (temporal).
func (s *Selector) SetTarget(spatial, temporal int) {
	s.tgtS, s.tgtT = clamp(spatial, MaxSpatial), clamp(temporal, MaxTemporal)
}

// Target returns the layers wanted.
func (s *Selector) Target() (spatial, temporal int) { return s.tgtS, s.tgtT }

// Current returns the highest layers being forwarded, (-1, -1) before the
// first keyframe.
func (s *Selector) Current() (spatial, temporal int) { return s.curS, s.curT }

// Reset forgets the current layers: forwarding restarts at the next
// keyframe (the stream restarted, or the subscriber resumed).
func (s *Selector) Reset() { s.curS, s.curT = -1, -1 }

func clamp(v, n int) int {
	if v < 0 {
		return 0
	}
	if v >= n {
		return n - 1
	}
	return v
}

// Select decides for p.
func (s *Selector) Select(p Packet) Decision {
	var d Decision
	switch {
	case p.Keyframe:
		// Everything may change at a keyframe.
		d.Switched = s.curS != s.tgtS || s.curT != s.tgtT
		s.curS, s.curT = s.tgtS, s.tgtT
	case s.curS < 0:
		return Decision{NeedKeyframe: true}
	case p.Start && p.Spatial == 0:
		// A new picture: go down at once, up temporally at a switching point.
		if s.tgtS < s.curS {
			s.curS, d.Switched = s.tgtS, true
		}
		if s.tgtT < s.curT || (s.tgtT > s.curT && p.SwitchUp) {
			s.curT, d.Switched = s.tgtT, true
		}
	}
	if s.tgtS > s.curS {
		d.NeedKeyframe = true
	}
	if p.Spatial > s.curS || p.Temporal > s.curT {
		return d
	}
	d.Forward = true
	d.Marker = p.Marker || (p.End && p.Spatial == s.curS)
	return d
}
