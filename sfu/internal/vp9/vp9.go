// Package vp9 reads the VP9 RTP payload descriptor (RFC 9628 §4.2): the
// fields an SFU needs to forward a scalable (SVC) VP9 stream per subscriber
// (spatial and temporal layer of each packet, where layer frames start and
// end, which pictures are keyframes and switching points).
//
// The descriptor is written by the sender's packetizer, after any
// end-to-end encryption of the frame (livekit-client's E2EE encrypts whole
// VP9 frames and leaves the descriptor alone), so everything read here is
// in the clear.
//
// Functions are pure, allocation-free and safe for concurrent use.
package vp9

// Descriptor is what one packet's payload descriptor says.
//
//	 0 1 2 3 4 5 6 7
//	|I|P|L|F|B|E|V|Z|  required
//	|M| PICTURE ID  |  I (M: 15 bits)
//	| PICTURE ID    |
//	| TID |U| SID |D|  L
//	|   TL0PICIDX   |  L and not F (non-flexible mode)
//	| P_DIFF      |N|  F and P, up to 3 times
//	|  SS ...       |  V
type Descriptor struct {
	Predicted bool // P: inter-picture predicted (false on a keyframe's layer frames)
	Flexible  bool // F
	Start     bool // B: first packet of a layer frame
	End       bool // E: last packet of a layer frame
	HasSS     bool // V: a scalability structure follows (keyframes)
	NotRefUp  bool // Z: not a reference for upper spatial layers

	HasPictureID bool
	PictureID    uint16

	HasLayers bool // L: the layer indices below are present
	Temporal  int  // TID
	Spatial   int  // SID
	SwitchUp  bool // U: temporal switching-up point
	InterDep  bool // D: depends on the lower spatial layer of the same picture

	HasTL0PicIdx bool
	TL0PicIdx    uint8
}

// Keyframe reports whether the packet starts a keyframe picture: the first
// packet of the base spatial layer's frame, not inter-picture predicted.
func (d Descriptor) Keyframe() bool {
	return d.Start && !d.Predicted && d.Spatial == 0
}

// Parse reads the descriptor at the start of a VP9 RTP payload. ok is false
// for a payload too short to hold what its first byte announces.
func Parse(p []byte) (d Descriptor, ok bool) {
	if len(p) < 1 {
		return d, false
	}
	b := p[0]
	d.Predicted = b&0x40 != 0
	d.HasLayers = b&0x20 != 0
	d.Flexible = b&0x10 != 0
	d.Start = b&0x08 != 0
	d.End = b&0x04 != 0
	d.HasSS = b&0x02 != 0
	d.NotRefUp = b&0x01 != 0
	i := 1
	if b&0x80 != 0 { // I
		if len(p) <= i {
			return d, false
		}
		d.HasPictureID = true
		if p[i]&0x80 != 0 {
			if len(p) <= i+1 {
				return d, false
			}
			d.PictureID = uint16(p[i]&0x7f)<<8 | uint16(p[i+1])
			i += 2
		} else {
			d.PictureID = uint16(p[i] & 0x7f)
			i++
		}
	}
	if d.HasLayers {
		if len(p) <= i {
			return d, false
		}
		l := p[i]
		d.Temporal = int(l >> 5)
		d.SwitchUp = l&0x10 != 0
		d.Spatial = int(l>>1) & 0x07
		d.InterDep = l&0x01 != 0
		i++
		if !d.Flexible {
			if len(p) <= i {
				return d, false
			}
			d.HasTL0PicIdx = true
			d.TL0PicIdx = p[i]
		}
	}
	return d, true
}
