package recorder

import (
	"errors"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
)

// picSize is a picture's width and height in pixels; the zero value means unknown.
type picSize struct{ w, h int }

func (s picSize) known() bool { return s.w > 0 && s.h > 0 }

// topLayerWait bounds how long a muxer waits for a keyframe of the top simulcast layer
// before it starts on a lower one (a publisher whose own bandwidth estimate has not yet
// allowed its top layer, as browsers do for their first seconds): the recording then
// switches up when the top layer arrives.
const topLayerWait = 4 * time.Second

// topSize is the largest picture a publication announces: its top simulcast layer, or the
// track's own dimensions.
func topSize(info *livekit.TrackInfo) picSize {
	var top picSize
	consider := func(w, h uint32) {
		if int(w)*int(h) > top.w*top.h {
			top = picSize{int(w), int(h)}
		}
	}
	if info == nil {
		return top
	}
	consider(info.GetWidth(), info.GetHeight())
	for _, l := range info.GetLayers() {
		consider(l.GetWidth(), l.GetHeight())
	}
	return top
}

// keyAction is what the recorder does with a keyframe of the recorded picture.
type keyAction int

const (
	keySkip     keyAction = iota // not yet: wait for a keyframe of the top layer
	keyStart                     // start the muxer's picture here
	keyContinue                  // part of the running picture
	keyResize                    // the picture's size changed: end this muxer
)

// keyframeAction decides what to do with a keyframe of size key (zero: unknown) arriving
// waited after the muxer was set up. started says whether the muxer's picture has begun,
// transcoded whether the muxer transcodes it (VP8, VP9) rather than copying it,
// run is the size it began with (zero: unknown), top the publication's largest announced
// size (zero: unknown), accept a size to start on at once (the size that ended the previous
// muxer).
//
// Why: the SFU starts a simulcast subscriber on whichever layer's keyframe comes first and
// switches it up later, and a copying muxer keeps the parameter sets it started with (the
// fMP4 init segment), so a recording started on the low layer would stay 320x180 or break at
// the switch. So a muxer starts on the top layer (more than half its area: layers step by a
// factor of four), waiting at most topLayerWait for it, and any later change of size (the
// SFU or the publisher changing layer) ends the muxer, so the next one starts on the new
// size with its own init segment, after a discontinuity.
func keyframeAction(started, transcoded bool, run, key, top, accept picSize, waited time.Duration) keyAction {
	if started {
		switch {
		case !run.known() || !key.known() || key == run:
			return keyContinue
		case transcoded && key.w*key.h <= run.w*run.h:
			// A transcoder scales any input to the size it started with: only a larger
			// picture is worth a new muxer (and its probe) for.
			return keyContinue
		}
		return keyResize
	}
	switch {
	case !top.known(), !key.known(), waited >= topLayerWait:
		return keyStart
	case key == accept:
		return keyStart
	case 2*key.w*key.h > top.w*top.h:
		return keyStart
	}
	return keySkip
}

// keyframeSize returns the picture size a keyframe's first RTP payload announces, for the
// codecs whose keyframes the recorder recognises (see keyframeStart).
func keyframeSize(mime string) func(payload []byte) picSize {
	switch strings.ToLower(mime) {
	case "video/h264":
		return h264KeyframeSize
	case "video/vp8":
		return vp8KeyframeSize
	}
	return nil
}

// h264KeyframeSize finds the SPS at the start of an RTP payload (RFC 6184: a single NAL
// unit, the first unit of a STAP-A, or the first fragment of an FU-A) and returns the
// picture size it describes.
func h264KeyframeSize(p []byte) picSize {
	if len(p) < 2 {
		return picSize{}
	}
	var nal []byte
	switch p[0] & 0x1f {
	case 7:
		nal = p[1:]
	case 24: // STAP-A (§5.7.1): 16-bit size, then the NAL unit with its header
		if len(p) < 4 {
			return picSize{}
		}
		n := int(p[1])<<8 | int(p[2])
		end := min(3+n, len(p))
		nal = p[4:end]
	case 28: // FU-A (§5.8): the first fragment carries the start of the SPS
		if p[1]&0x80 == 0 || p[1]&0x1f != 7 {
			return picSize{}
		}
		nal = p[2:]
	default:
		return picSize{}
	}
	s, err := parseSPS(nal)
	if err != nil {
		return picSize{}
	}
	return s
}

// vp8KeyframeSize reads the size of a VP8 keyframe (RFC 6386 §9.1: a 3-byte frame tag, the
// start code 9d 01 2a, then 14-bit width and height) after the RTP payload descriptor.
func vp8KeyframeSize(p []byte) picSize {
	i, ok := vp8PayloadStart(p)
	if !ok || len(p) < i+10 || p[i]&0x01 != 0 || p[i+3] != 0x9d || p[i+4] != 0x01 || p[i+5] != 0x2a {
		return picSize{}
	}
	w := int(p[i+6]) | int(p[i+7]&0x3f)<<8
	h := int(p[i+8]) | int(p[i+9]&0x3f)<<8
	return picSize{w, h}
}

// spsReader reads the Exp-Golomb coded fields of an SPS RBSP (ITU-T H.264 §7.3.2.1.1, §9.1)
// from a NAL unit payload, removing emulation-prevention bytes (§7.4.1) as it goes.
type spsReader struct {
	b     []byte
	i     int // byte index in b
	bit   int // next bit in b[i], 7 = most significant
	zeros int // zero bytes just read, for emulation prevention
	err   error
}

var errShortSPS = errors.New("sps: truncated")

func (r *spsReader) u1() int {
	if r.err != nil {
		return 0
	}
	if r.bit == 7 {
		// Entering a new byte: 00 00 03 drops the 03.
		if r.zeros >= 2 && r.i < len(r.b) && r.b[r.i] == 3 {
			r.i++
			r.zeros = 0
		}
		if r.i >= len(r.b) {
			r.err = errShortSPS
			return 0
		}
	}
	v := int(r.b[r.i]>>r.bit) & 1
	if r.bit == 0 {
		if r.b[r.i] == 0 {
			r.zeros++
		} else {
			r.zeros = 0
		}
		r.i++
		r.bit = 7
	} else {
		r.bit--
	}
	return v
}

func (r *spsReader) u(n int) int {
	v := 0
	for range n {
		v = v<<1 | r.u1()
	}
	return v
}

func (r *spsReader) ue() int {
	lead := 0
	for r.u1() == 0 && r.err == nil {
		lead++
		if lead > 31 {
			r.err = errors.New("sps: bad Exp-Golomb code")
			return 0
		}
	}
	return (1<<lead - 1) + r.u(lead)
}

func (r *spsReader) se() int {
	k := r.ue()
	if k%2 == 1 {
		return (k + 1) / 2
	}
	return -k / 2
}

// parseSPS returns the cropped picture size of an SPS (the NAL unit after its header byte).
func parseSPS(nal []byte) (picSize, error) {
	r := &spsReader{b: nal, bit: 7}
	profile := r.u(8)
	r.u(16) // constraint flags, reserved bits, level_idc
	r.ue()  // seq_parameter_set_id
	chroma := 1
	separate := 0
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma == 3 {
			separate = r.u1()
		}
		r.ue()           // bit_depth_luma_minus8
		r.ue()           // bit_depth_chroma_minus8
		r.u1()           // qpprime_y_zero_transform_bypass_flag
		if r.u1() == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.u1() == 0 {
					continue
				}
				size := 16
				if i >= 6 {
					size = 64
				}
				last, next := 8, 8
				for range size {
					if next != 0 {
						next = (last + r.se() + 256) % 256
					}
					if next != 0 {
						last = next
					}
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.u1()
		r.se()
		r.se()
		n := r.ue()
		if n > 255 {
			return picSize{}, errors.New("sps: bad num_ref_frames_in_pic_order_cnt_cycle")
		}
		for range n {
			r.se()
		}
	}
	r.ue() // max_num_ref_frames
	r.u1() // gaps_in_frame_num_value_allowed_flag
	wMB := r.ue() + 1
	hMapUnits := r.ue() + 1
	frameMBsOnly := r.u1()
	if frameMBsOnly == 0 {
		r.u1() // mb_adaptive_frame_field_flag
	}
	r.u1() // direct_8x8_inference_flag
	var cl, cr, ct, cb int
	if r.u1() == 1 { // frame_cropping_flag
		cl, cr, ct, cb = r.ue(), r.ue(), r.ue(), r.ue()
	}
	if r.err != nil {
		return picSize{}, r.err
	}
	// Crop units (§7.4.2.1.1, Table 6-1).
	cx, cy := 1, 2-frameMBsOnly
	if separate == 0 && chroma != 0 {
		subW, subH := 2, 2
		switch chroma {
		case 2:
			subH = 1
		case 3:
			subW, subH = 1, 1
		}
		cx, cy = subW, subH*(2-frameMBsOnly)
	}
	w := wMB*16 - cx*(cl+cr)
	h := (2-frameMBsOnly)*hMapUnits*16 - cy*(ct+cb)
	if w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return picSize{}, errors.New("sps: implausible size")
	}
	return picSize{w, h}, nil
}
