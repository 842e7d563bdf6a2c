// Package vp8 reads and rewrites the fields of the VP8 RTP payload
// descriptor (RFC 7741 §4.2) that an SFU must keep continuous when it
// switches a subscriber between simulcast streams: PictureID and TL0PICIDX.
// Each simulcast stream numbers its pictures independently, so without
// rewriting a receiver would see the numbers jump (possibly backwards) at a
// switch and could discard the new stream's frames as old.
//
// Functions are pure, allocation-free and safe for concurrent use.
package vp8

// Descriptor locates the rewritable fields of one packet's descriptor.
type Descriptor struct {
	HasPictureID bool
	WidePicture  bool   // 15-bit PictureID (M=1), else 7-bit
	PictureID    uint16 // valid when HasPictureID
	picOffset    int    // byte offset of the PictureID field

	HasTL0PicIdx bool
	TL0PicIdx    uint8
	tl0Offset    int
}

// Parse reads the descriptor at the start of a VP8 RTP payload. ok is false
// for a payload too short to hold the descriptor it announces.
//
//	 0 1 2 3 4 5 6 7
//	|X|R|N|S|R| PID |  required
//	|I|L|T|K| RSV   |  X: extension
//	|M| PictureID   |  I: 7 or (M) 15 bits
//	|  PictureID    |
//	|   TL0PICIDX   |  L
//	|TID|Y| KEYIDX  |  T or K
func Parse(p []byte) (d Descriptor, ok bool) {
	if len(p) < 1 {
		return d, false
	}
	if p[0]&0x80 == 0 {
		return d, true // no extension: nothing to rewrite
	}
	if len(p) < 2 {
		return d, false
	}
	x := p[1]
	i := 2
	if x&0x80 != 0 { // I
		if len(p) <= i {
			return d, false
		}
		d.HasPictureID = true
		d.picOffset = i
		if p[i]&0x80 != 0 {
			if len(p) <= i+1 {
				return d, false
			}
			d.WidePicture = true
			d.PictureID = uint16(p[i]&0x7f)<<8 | uint16(p[i+1])
			i += 2
		} else {
			d.PictureID = uint16(p[i] & 0x7f)
			i++
		}
	}
	if x&0x40 != 0 { // L
		if len(p) <= i {
			return d, false
		}
		d.HasTL0PicIdx = true
		d.tl0Offset = i
		d.TL0PicIdx = p[i]
	}
	return d, true
}

// PictureIDMask is the largest PictureID value the descriptor can carry.
func (d Descriptor) PictureIDMask() uint16 {
	if d.WidePicture {
		return 0x7fff
	}
	return 0x7f
}

// Rewrite stores picture (masked to the field's width) and tl0 into p, a
// writable copy of the payload d was parsed from. Absent fields are left
// alone.
func (d Descriptor) Rewrite(p []byte, picture uint16, tl0 uint8) {
	if d.HasPictureID {
		if d.WidePicture {
			p[d.picOffset] = 0x80 | byte(picture>>8)&0x7f
			p[d.picOffset+1] = byte(picture)
		} else {
			p[d.picOffset] = byte(picture) & 0x7f
		}
	}
	if d.HasTL0PicIdx {
		p[d.tl0Offset] = tl0
	}
}
