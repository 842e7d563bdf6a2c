package sfu_test

// Synthetic but well-formed video frames for the acceptance tests, so keyframe detection,
// depacketisation and decoders see real bitstream structure without an encoder.

// bitWriter writes H.264 RBSP fields (ITU-T H.264 §7.2: u(n), ue(v), se(v)).
type bitWriter struct {
	buf  []byte
	nbit int
}

func (w *bitWriter) u(n int, v uint32) {
	for i := n - 1; i >= 0; i-- {
		if w.nbit%8 == 0 {
			w.buf = append(w.buf, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.buf[len(w.buf)-1] |= 0x80 >> uint(w.nbit%8)
		}
		w.nbit++
	}
}

// ue writes unsigned Exp-Golomb (§9.1).
func (w *bitWriter) ue(v uint32) {
	x := v + 1
	n := 0
	for t := x; t > 1; t >>= 1 {
		n++
	}
	w.u(n, 0)
	w.u(n+1, x)
}

func (w *bitWriter) se(v int32) {
	if v <= 0 {
		w.ue(uint32(-2 * v))
	} else {
		w.ue(uint32(2*v - 1))
	}
}

func (w *bitWriter) align() {
	for w.nbit%8 != 0 {
		w.u(1, 0)
	}
}

// trailing writes rbsp_trailing_bits (§7.3.2.11).
func (w *bitWriter) trailing() {
	w.u(1, 1)
	w.align()
}

// nal wraps an RBSP with its header byte and emulation prevention (§7.4.1), Annex-B framed.
func nal(header byte, rbsp []byte) []byte {
	out := []byte{0, 0, 0, 1, header}
	zeros := 0
	for _, b := range rbsp {
		if zeros >= 2 && b <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, b)
		if b == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// h264Stream produces a Constrained Baseline stream of wMB x hMB macroblocks: keyframes
// are SPS + PPS + an IDR slice of I_PCM macroblocks (decodable with no entropy coding),
// other frames are P slices that skip every macroblock.
type h264Stream struct {
	wMB, hMB int
	frameNum uint32
	idrID    uint32
}

func (s *h264Stream) sps() []byte {
	var w bitWriter
	w.u(8, 66)   // profile_idc: Baseline
	w.u(8, 0xE0) // constraint_set0,1,2 (constrained baseline)
	w.u(8, 31)   // level_idc 3.1
	w.ue(0)      // seq_parameter_set_id
	w.ue(0)      // log2_max_frame_num_minus4: frame_num is 4 bits
	w.ue(2)      // pic_order_cnt_type 2: output order = decode order
	w.ue(1)      // max_num_ref_frames
	w.u(1, 0)    // gaps_in_frame_num_value_allowed_flag
	w.ue(uint32(s.wMB - 1))
	w.ue(uint32(s.hMB - 1))
	w.u(1, 1) // frame_mbs_only_flag
	w.u(1, 1) // direct_8x8_inference_flag
	w.u(1, 0) // frame_cropping_flag
	w.u(1, 0) // vui_parameters_present_flag
	w.trailing()
	return nal(0x67, w.buf)
}

func (s *h264Stream) pps() []byte {
	var w bitWriter
	w.ue(0)   // pic_parameter_set_id
	w.ue(0)   // seq_parameter_set_id
	w.u(1, 0) // entropy_coding_mode_flag: CAVLC
	w.u(1, 0) // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)   // num_slice_groups_minus1
	w.ue(0)   // num_ref_idx_l0_default_active_minus1
	w.ue(0)   // num_ref_idx_l1_default_active_minus1
	w.u(1, 0) // weighted_pred_flag
	w.u(2, 0) // weighted_bipred_idc
	w.se(0)   // pic_init_qp_minus26
	w.se(0)   // pic_init_qs_minus26
	w.se(0)   // chroma_qp_index_offset
	w.u(1, 1) // deblocking_filter_control_present_flag
	w.u(1, 0) // constrained_intra_pred_flag
	w.u(1, 0) // redundant_pic_cnt_present_flag
	w.trailing()
	return nal(0x68, w.buf)
}

// next returns the next access unit in Annex-B form.
func (s *h264Stream) next(key bool, shade byte) []byte {
	var w bitWriter
	w.ue(0) // first_mb_in_slice
	if key {
		s.frameNum = 0
		w.ue(7) // slice_type: I (all slices)
	} else {
		s.frameNum = (s.frameNum + 1) % 16
		w.ue(5) // slice_type: P (all slices)
	}
	w.ue(0)            // pic_parameter_set_id
	w.u(4, s.frameNum) // frame_num
	if key {
		w.ue(s.idrID % 2) // idr_pic_id
		s.idrID++
	} else {
		w.u(1, 0) // num_ref_idx_active_override_flag
		w.u(1, 0) // ref_pic_list_modification_flag_l0
	}
	if key {
		w.u(1, 0) // no_output_of_prior_pics_flag
		w.u(1, 0) // long_term_reference_flag
	} else {
		w.u(1, 0) // adaptive_ref_pic_marking_mode_flag
	}
	w.se(0) // slice_qp_delta
	w.ue(1) // disable_deblocking_filter_idc
	mbs := s.wMB * s.hMB
	if key {
		if shade < 4 {
			shade = 4 // keep PCM bytes clear of emulation-prevention patterns
		}
		for i := 0; i < mbs; i++ {
			w.ue(25) // mb_type I_PCM
			w.align()
			for j := 0; j < 256+128; j++ {
				w.buf = append(w.buf, shade)
				w.nbit += 8
			}
		}
	} else {
		w.ue(uint32(mbs)) // mb_skip_run: every macroblock
	}
	w.trailing()
	if key {
		au := append(s.sps(), s.pps()...)
		return append(au, nal(0x65, w.buf)...)
	}
	return nal(0x41, w.buf)
}

// vp8Frame builds a VP8 frame (RFC 6386 §9.1): the 3-byte frame tag with the right key
// bit, show_frame and first-partition size; for keyframes the start code and dimensions.
// The partition bytes are filler: enough for depacketisers and keyframe detectors.
func vp8Frame(key bool, width, height int, fill byte) []byte {
	const partSize = 64
	tag := uint32(partSize)<<5 | 1<<4 // show_frame, version 0
	if !key {
		tag |= 1 // inter frame
	}
	b := []byte{byte(tag), byte(tag >> 8), byte(tag >> 16)}
	if key {
		b = append(b, 0x9d, 0x01, 0x2a, byte(width), byte(width>>8)&0x3f, byte(height), byte(height>>8)&0x3f)
	}
	for i := 0; i < partSize+32; i++ {
		b = append(b, fill)
	}
	return b
}
