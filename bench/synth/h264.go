package synth

// bitWriter writes the big-endian bit fields and Exp-Golomb codes of H.264 syntax
// (ITU-T H.264 §7.2, §9.1).
type bitWriter struct {
	b    []byte
	nbit int
}

func (w *bitWriter) bit(v uint) {
	if w.nbit%8 == 0 {
		w.b = append(w.b, 0)
	}
	if v != 0 {
		w.b[len(w.b)-1] |= 0x80 >> (w.nbit % 8)
	}
	w.nbit++
}

func (w *bitWriter) bits(v uint, n int) {
	for i := n - 1; i >= 0; i-- {
		w.bit(v >> i & 1)
	}
}

// ue writes an unsigned Exp-Golomb code.
func (w *bitWriter) ue(v uint) {
	v++
	n := 0
	for x := v; x > 1; x >>= 1 {
		n++
	}
	w.bits(0, n)
	w.bits(v, n+1)
}

// trailing writes rbsp_trailing_bits (a stop bit, then zeros to the byte boundary).
func (w *bitWriter) trailing() {
	w.bit(1)
	for w.nbit%8 != 0 {
		w.bit(0)
	}
}

// escape inserts emulation-prevention bytes (H.264 §7.4.1) into an RBSP.
func escape(rbsp []byte) []byte {
	out := make([]byte, 0, len(rbsp)+4)
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

// h264SPS returns a Constrained Baseline level 3.1 sequence parameter set NAL unit
// (profile-level-id 42e01f, what WebRTC negotiates) for width x height.
func h264SPS(width, height int) []byte {
	w := &bitWriter{}
	w.bits(66, 8)   // profile_idc: Baseline
	w.bits(0xe0, 8) // constraint_set0..2 flags: Constrained Baseline
	w.bits(31, 8)   // level_idc 3.1
	w.ue(0)         // seq_parameter_set_id
	w.ue(0)         // log2_max_frame_num_minus4
	w.ue(2)         // pic_order_cnt_type
	w.ue(1)         // max_num_ref_frames
	w.bit(0)        // gaps_in_frame_num_value_allowed_flag
	mbW, mbH := (width+15)/16, (height+15)/16
	w.ue(uint(mbW - 1)) // pic_width_in_mbs_minus1
	w.ue(uint(mbH - 1)) // pic_height_in_map_units_minus1
	w.bit(1)            // frame_mbs_only_flag
	w.bit(1)            // direct_8x8_inference_flag
	cropR, cropB := (mbW*16-width)/2, (mbH*16-height)/2
	if cropR != 0 || cropB != 0 {
		w.bit(1) // frame_cropping_flag; units of 2 luma samples in 4:2:0
		w.ue(0)
		w.ue(uint(cropR))
		w.ue(0)
		w.ue(uint(cropB))
	} else {
		w.bit(0)
	}
	w.bit(0) // vui_parameters_present_flag
	w.trailing()
	return append([]byte{0x67}, escape(w.b)...)
}

// h264PPS returns the matching picture parameter set NAL unit (CAVLC, one slice group).
func h264PPS() []byte {
	w := &bitWriter{}
	w.ue(0)      // pic_parameter_set_id
	w.ue(0)      // seq_parameter_set_id
	w.bit(0)     // entropy_coding_mode_flag: CAVLC
	w.bit(0)     // bottom_field_pic_order_in_frame_present_flag
	w.ue(0)      // num_slice_groups_minus1
	w.ue(0)      // num_ref_idx_l0_default_active_minus1
	w.ue(0)      // num_ref_idx_l1_default_active_minus1
	w.bit(0)     // weighted_pred_flag
	w.bits(0, 2) // weighted_bipred_idc
	w.ue(0)      // pic_init_qp_minus26 (se(0) has the same code)
	w.ue(0)      // pic_init_qs_minus26
	w.ue(0)      // chroma_qp_index_offset
	w.bit(1)     // deblocking_filter_control_present_flag
	w.bit(0)     // constrained_intra_pred_flag
	w.bit(0)     // redundant_pic_cnt_present_flag
	w.trailing()
	return append([]byte{0x68}, escape(w.b)...)
}

// h264SliceHeader returns the first bytes of a slice header (§7.3.3) up to the frame
// number; the rest of the slice is filler.
func h264SliceHeader(idr bool, frameNum uint8) []byte {
	w := &bitWriter{}
	w.ue(0) // first_mb_in_slice
	if idr {
		w.ue(7) // slice_type: I (all slices of the picture)
	} else {
		w.ue(5) // slice_type: P (all slices of the picture)
	}
	w.ue(0) // pic_parameter_set_id
	if idr {
		w.bits(0, 4)                  // frame_num is 0 in an IDR picture
		w.ue(uint(frameNum) & 0xffff) // idr_pic_id
	} else {
		w.bits(uint(frameNum)&0xf, 4) // frame_num, log2_max_frame_num = 4
	}
	w.trailing()
	return escape(w.b)
}
