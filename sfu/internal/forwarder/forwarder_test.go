package forwarder

import "testing"

const ms = int64(1e6)

// step either changes the Forwarder's settings (do) or feeds it a packet and
// checks the decision.
type step struct {
	do   func(f *Forwarder)
	p    Packet
	want Result
}

func fwd(seq uint16, ts uint32) Result { return Result{Forward: true, Seq: seq, TS: ts} }
func sw(seq uint16, ts uint32) Result  { return Result{Forward: true, Seq: seq, TS: ts, Switched: true} }
func drop(r Reason) Result             { return Result{Reason: r} }
func dropKF(r Reason, layer int) Result {
	return Result{Reason: r, NeedKeyframe: true, KeyframeLayer: layer}
}
func fwdKF(seq uint16, ts uint32, layer int) Result {
	return Result{Forward: true, Seq: seq, TS: ts, NeedKeyframe: true, KeyframeLayer: layer}
}

func vp(layer int, seq uint64, ts uint32, at int64, key bool) Packet {
	return Packet{Layer: layer, ExtSeq: seq, TS: ts, Arrival: at, Keyframe: key}
}

func TestForward(t *testing.T) {
	tests := []struct {
		name  string
		p     Params
		steps []step
	}{
		{
			name: "audio starts at once and passes numbers through",
			p:    Params{Kind: Audio, ClockRate: 48000},
			steps: []step{
				{p: vp(0, 70000, 1000, 0, false), want: sw(70000&0xffff, 1000)},
				{p: vp(0, 70001, 1960, 20*ms, false), want: fwd(4465, 1960)},
				{p: vp(0, 70003, 3880, 60*ms, false), want: fwd(4467, 3880)}, // upstream loss stays a gap
				{p: vp(0, 70002, 2920, 61*ms, false), want: fwd(4466, 2920)}, // late packet fills it
			},
		},
		{
			name: "video waits for a keyframe",
			p:    Params{Kind: Video},
			steps: []step{
				{do: func(f *Forwarder) { f.SetTargetLayer(0) }},
				{p: vp(0, 100, 9000, 0, false), want: dropKF(WaitKeyframe, 0)},
				{p: vp(0, 101, 9000, 1*ms, false), want: dropKF(WaitKeyframe, 0)},
				{p: vp(0, 102, 12000, 33*ms, true), want: sw(102, 12000)},
				{p: vp(0, 103, 12000, 34*ms, false), want: fwd(103, 12000)},
				{p: vp(0, 101, 9000, 35*ms, false), want: drop(BeforeSegment)},
			},
		},
		{
			name: "late joiner starts on a lower layer, then switches up at the target's keyframe",
			p:    Params{Kind: Video},
			steps: []step{
				{p: vp(2, 500, 3000, 0, false), want: dropKF(WaitKeyframe, 2)},
				{p: vp(0, 10, 6000, 1*ms, true), want: sw(10, 6000)},
				{p: vp(2, 501, 3000, 2*ms, false), want: dropKF(OtherLayer, 2)},
				{p: vp(0, 11, 9000, 33*ms, false), want: fwdKF(11, 9000, 2)},
				// layer 2's keyframe arrives 10 ms after layer 0's last packet: 900 ticks later
				{p: vp(2, 502, 50000, 43*ms, true), want: sw(12, 9900)},
				step{p: vp(0, 12, 12000, 66*ms, false), want: dropKF(OtherLayer, 2)}.withoutKF(),
				{p: vp(2, 503, 53000, 76*ms, false), want: fwd(13, 12900)},
			},
		},
		{
			name: "switch down waits for the lower layer's keyframe and keeps timestamps monotonic",
			p:    Params{Kind: Video},
			steps: []step{
				{p: vp(2, 65535, 4294967000, 0, true), want: sw(65535, 4294967000)},
				{p: vp(2, 65536, 4294967000, 1*ms, false), want: fwd(0, 4294967000)}, // seq wraps; the timestamp wraps next
				{do: func(f *Forwarder) { f.SetTargetLayer(1) }},
				{p: vp(1, 7, 100, 2*ms, false), want: dropKF(OtherLayer, 1)},
				{p: vp(2, 65537, 2704, 34*ms, false), want: fwdKF(1, 2704, 1)},
				{p: vp(1, 8, 200, 35*ms, true), want: sw(2, 2794)},
				{p: vp(1, 9, 3200, 68*ms, false), want: fwd(3, 5794)},
				{p: vp(2, 65538, 5704, 68*ms, false), want: drop(OtherLayer)},
			},
		},
		{
			name: "subscriber pause and resume",
			p:    Params{Kind: Video},
			steps: []step{
				{do: func(f *Forwarder) { f.SetTargetLayer(0) }},
				{p: vp(0, 1, 1000, 0, true), want: sw(1, 1000)},
				{p: vp(0, 2, 4000, 33*ms, false), want: fwd(2, 4000)},
				{do: func(f *Forwarder) { f.SetEnabled(false) }},
				{p: vp(0, 3, 7000, 66*ms, true), want: drop(Paused)},
				{p: vp(0, 4, 10000, 99*ms, false), want: drop(Paused)},
				{do: func(f *Forwarder) { f.SetEnabled(true) }},
				step{p: vp(0, 5, 13000, 132*ms, false), want: dropKF(WaitKeyframe, 0)},
				// resumes 1 s after the last forwarded packet: seq 3, ts + 90000
				{p: vp(0, 6, 16000, 1033*ms, true), want: sw(3, 94000)},
				{p: vp(0, 7, 19000, 1066*ms, false), want: fwd(4, 97000)},
			},
		},
		{
			name: "publisher mute: audio resumes at once, contiguous",
			p:    Params{Kind: Audio, ClockRate: 48000},
			steps: []step{
				{p: vp(0, 1, 0, 0, false), want: sw(1, 0)},
				{do: func(f *Forwarder) { f.SetMuted(true) }},
				{p: vp(0, 2, 960, 20*ms, false), want: drop(Muted)},
				{do: func(f *Forwarder) { f.SetMuted(false) }},
				// publisher's seq jumped by 50 while muted; the subscriber sees none of it
				{p: vp(0, 52, 48960, 520*ms, false), want: sw(2, 24960)},
				{p: vp(0, 53, 49920, 540*ms, false), want: fwd(3, 25920)},
			},
		},
		{
			name: "resume within the same millisecond still advances the timestamp",
			p:    Params{Kind: Audio, ClockRate: 48000},
			steps: []step{
				{p: vp(0, 1, 500, 10*ms, false), want: sw(1, 500)},
				{do: func(f *Forwarder) { f.SetEnabled(false); f.SetEnabled(true) }},
				{p: vp(0, 2, 500, 10*ms, false), want: sw(2, 501)},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := New(tt.p)
			for i, s := range tt.steps {
				if s.do != nil {
					s.do(f)
					continue
				}
				if got := f.Forward(s.p); got != s.want {
					t.Fatalf("step %d: Forward(%v) = %v, want %v", i, s.p, got, s.want)
				}
			}
		})
	}
}

// withoutKF: the expected drop does not ask for a keyframe (the switch is
// done).
func (s step) withoutKF() step {
	s.want.NeedKeyframe, s.want.KeyframeLayer = false, 0
	return s
}

func TestLookup(t *testing.T) {
	f := New(Params{Kind: Video})
	// segment 1: layer 0, in 100..102 -> out 100..102
	f.Forward(vp(0, 100, 0, 0, true))
	f.Forward(vp(0, 101, 0, 1*ms, false))
	f.Forward(vp(0, 102, 0, 2*ms, false))
	// segment 2: layer 2 from in 900 -> out 103.. (105 lost upstream)
	f.SetTargetLayer(2)
	f.Forward(vp(2, 900, 90000, 3*ms, true))
	f.Forward(vp(2, 901, 90000, 4*ms, false))
	f.Forward(vp(2, 903, 93000, 5*ms, false))
	tsOff := uint32(90000 - (0 + 90)) // layer 2 ts 90000 became 0 + 1 ms (90 ticks)

	tests := []struct {
		seq    uint16
		want   Origin
		wantOK bool
	}{
		{100, Origin{Layer: 0, ExtSeq: 100}, true},
		{102, Origin{Layer: 0, ExtSeq: 102}, true},
		{103, Origin{Layer: 2, ExtSeq: 900, TSOffset: tsOff}, true},
		{105, Origin{Layer: 2, ExtSeq: 902, TSOffset: tsOff}, true},
		{106, Origin{Layer: 2, ExtSeq: 903, TSOffset: tsOff}, true},
		{107, Origin{}, false}, // not forwarded yet
		{99, Origin{}, false},  // before the first segment
	}
	for _, tt := range tests {
		got, ok := f.Lookup(tt.seq)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("Lookup(%d) = %+v, %v, want %+v, %v", tt.seq, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestLookupManySegments(t *testing.T) {
	f := New(Params{Kind: Audio, ClockRate: 48000})
	in := uint64(1000)
	var outs []uint16
	for seg := range historySize + 4 {
		for range 3 {
			r := f.Forward(vp(0, in, uint32(in), int64(in)*ms, false))
			if !r.Forward {
				t.Fatalf("segment %d: packet %d dropped: %v", seg, in, r)
			}
			outs = append(outs, r.Seq)
			in++
		}
		in += 10 // gap hidden by a pause
		f.SetEnabled(false)
		f.SetEnabled(true)
	}
	// The newest historySize+1 segments are mapped, older ones are forgotten.
	mapped := 0
	for i, s := range outs {
		o, ok := f.Lookup(s)
		if !ok {
			continue
		}
		mapped++
		seg := i / 3
		if want := uint64(1000 + seg*13 + i%3); o.ExtSeq != want {
			t.Errorf("Lookup(%d) = %d, want %d", s, o.ExtSeq, want)
		}
	}
	if want := (historySize + 1) * 3; mapped != want {
		t.Errorf("mapped %d sequence numbers, want %d", mapped, want)
	}
}

func TestRestart(t *testing.T) {
	f := New(Params{Kind: Video})
	f.SetTargetLayer(1)
	f.Forward(vp(1, 10, 100, 0, true))
	f.Restart()
	if f.CurrentLayer() != -1 || f.TargetLayer() != 1 {
		t.Fatalf("after Restart: current %d target %d, want -1 and 1", f.CurrentLayer(), f.TargetLayer())
	}
	if got, want := f.Forward(vp(1, 20, 5000, 1*ms, true)), sw(20, 5000); got != want {
		t.Errorf("Forward after Restart = %v, want %v (fresh start, numbers passed through)", got, want)
	}
}

func vp8p(layer int, seq uint64, at int64, key bool, pic uint16, tl0 uint8) Packet {
	return Packet{Layer: layer, ExtSeq: seq, TS: uint32(seq) * 10, Arrival: at, Keyframe: key,
		HasPictureID: true, PictureID: pic, PictureMask: 0x7fff, HasTL0PicIdx: true, TL0PicIdx: tl0}
}

func TestForwardVP8Numbering(t *testing.T) {
	f := New(Params{Kind: Video})
	steps := []struct {
		do      func()
		p       Packet
		pic     uint16
		tl0     uint8
		forward bool
	}{
		{p: vp8p(0, 10, 0, true, 100, 5), pic: 100, tl0: 5, forward: true}, // first: passed through
		{p: vp8p(0, 11, 1*ms, false, 100, 5), pic: 100, tl0: 5, forward: true},
		{p: vp8p(0, 12, 2*ms, false, 101, 5), pic: 101, tl0: 5, forward: true},
		{p: vp8p(0, 13, 3*ms, false, 102, 6), pic: 102, tl0: 6, forward: true},
		{do: func() { f.SetTargetLayer(2) }},
		{p: vp8p(2, 500, 4*ms, true, 32766, 200), pic: 103, tl0: 7, forward: true}, // switch: continues
		{p: vp8p(2, 501, 5*ms, false, 32767, 200), pic: 104, tl0: 7, forward: true},
		{p: vp8p(2, 502, 6*ms, false, 0, 201), pic: 105, tl0: 8, forward: true}, // input wraps
		{p: vp8p(0, 14, 7*ms, false, 103, 6), forward: false},
		{do: func() { f.SetEnabled(false); f.SetEnabled(true) }},
		{p: vp8p(2, 503, 8*ms, true, 1, 202), pic: 106, tl0: 9, forward: true}, // resume: continues
	}
	for i, s := range steps {
		if s.do != nil {
			s.do()
			continue
		}
		r := f.Forward(s.p)
		if r.Forward != s.forward || (s.forward && (r.PictureID != s.pic || r.TL0PicIdx != s.tl0)) {
			t.Fatalf("step %d: Forward(%v pic=%d tl0=%d) = %v, want forward=%v pic=%d tl0=%d",
				i, s.p, s.p.PictureID, s.p.TL0PicIdx, r, s.forward, s.pic, s.tl0)
		}
	}
	// A NACK for the switch's first packet maps back with the VP8 offsets.
	o, ok := f.Lookup(14)
	if !ok || o.Layer != 2 || o.ExtSeq != 500 || (32766-o.PicOffset)&0x7fff != 103 || 200-o.TL0Offset != 7 {
		t.Errorf("Lookup(14) = %+v, %v; want layer 2, seq 500, offsets mapping 32766->103 and 200->7", o, ok)
	}

	// 7-bit PictureIDs wrap at 128.
	g := New(Params{Kind: Video})
	g.SetTargetLayer(0)
	p := Packet{ExtSeq: 1, Keyframe: true, HasPictureID: true, PictureID: 127, PictureMask: 0x7f}
	g.Forward(p)
	g.SetEnabled(false)
	g.SetEnabled(true)
	p.ExtSeq, p.PictureID = 2, 40
	if r := g.Forward(p); r.PictureID != 0 {
		t.Errorf("7-bit: after 127 the next segment starts at %d, want 0", r.PictureID)
	}
}
