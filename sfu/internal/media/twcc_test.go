package media

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// feedbackBytes marshals the feedback a pion receiver (twcc.Recorder, what
// pion clients send) builds for arrivals, a map from transport-wide sequence
// number to arrival time in µs.
func feedbackBytes(t *testing.T, seqs []uint16, arrivals map[uint16]int64) [][]byte {
	t.Helper()
	rec := twcc.NewRecorder(5000)
	for _, s := range seqs {
		if at, ok := arrivals[s]; ok {
			rec.Record(1, s, at)
		}
	}
	var out [][]byte
	for _, p := range rec.BuildFeedbackPacket() {
		b, err := p.Marshal()
		if err != nil {
			t.Fatalf("marshal feedback: %v", err)
		}
		out = append(out, b)
	}
	return out
}

func TestParseTWCC(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		base := uint16(rng.IntN(1 << 16))
		n := 1 + rng.IntN(300)
		at := int64(1_000_000_000 + rng.IntN(1_000_000))
		var seqs []uint16
		arrivals := map[uint16]int64{}
		for i := range n {
			s := base + uint16(i)
			seqs = append(seqs, s)
			switch r := rng.IntN(20); {
			case r == 0: // lost
				continue
			case r == 1: // a long gap: large delta
				at += int64(rng.IntN(200_000))
			case r == 2 && i > 0: // reordered in the network: negative delta
				at -= int64(rng.IntN(5_000))
			default:
				at += int64(rng.IntN(3_000))
			}
			arrivals[s] = at
		}
		var acks []twccAck
		var got []twccAck
		for _, b := range feedbackBytes(t, seqs, arrivals) {
			n := 0
			forEachTWCC(b, func(pkt []byte) {
				n++
				var err error
				_, acks, err = parseTWCC(pkt, acks)
				if err != nil {
					t.Fatalf("round %d: parseTWCC: %v", round, err)
				}
				got = append(got, acks...)
			})
			if n != 1 {
				t.Fatalf("round %d: forEachTWCC found %d feedback packets, want 1", round, n)
			}
		}
		// The recorder reports from the first to the last received packet.
		var want []uint16
		first, last := -1, -1
		for i, s := range seqs {
			if _, ok := arrivals[s]; ok {
				if first < 0 {
					first = i
				}
				last = i
			}
		}
		want = seqs[first : last+1]
		if len(got) != len(want) {
			t.Fatalf("round %d: parsed %d statuses, want %d", round, len(got), len(want))
		}
		for i, a := range got {
			if a.seq != want[i] {
				t.Fatalf("round %d: status %d is seq %d, want %d", round, i, a.seq, want[i])
			}
			wantAt, received := arrivals[a.seq]
			if a.received != received {
				t.Fatalf("round %d: seq %d received = %v, want %v", round, a.seq, a.received, received)
			}
			// The recorder quantises deltas to 250 µs, truncating.
			if received && (a.arrival >= wantAt+250 || a.arrival <= wantAt-250) {
				t.Fatalf("round %d: seq %d arrival %d, want within 250 µs of %d", round, a.seq, a.arrival, wantAt)
			}
		}
	}
}

func TestParseTWCCMalformed(t *testing.T) {
	b := feedbackBytes(t, []uint16{1, 2, 3, 4}, map[uint16]int64{1: 1000, 2: 2000, 4: 90_000})[0]
	for n := range len(b) {
		if _, _, err := parseTWCC(b[:n], nil); err == nil && n < 20 {
			t.Errorf("parseTWCC of the first %d bytes: no error", n)
		}
	}
	// Claims 1000 statuses, carries 4.
	bad := append([]byte(nil), b...)
	bad[14], bad[15] = 0x03, 0xe8
	if _, _, err := parseTWCC(bad, nil); err == nil {
		t.Error("parseTWCC with a status count beyond the chunks: no error")
	}
	// A compound packet: a receiver report, then the feedback.
	rr, _ := (&rtcp.ReceiverReport{SSRC: 9}).Marshal()
	n := 0
	forEachTWCC(append(rr, b...), func([]byte) { n++ })
	if n != 1 {
		t.Errorf("forEachTWCC over RR+TWCC found %d feedback packets, want 1", n)
	}
}

func FuzzParseTWCC(f *testing.F) {
	f.Add([]byte{0x8f, 205, 0, 5, 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 3, 0, 0, 1, 0, 0xd6, 0x40, 4, 8, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		acks := make([]twccAck, 0, 4)
		forEachTWCC(b, func(pkt []byte) { _, acks, _ = parseTWCC(pkt, acks) })
	})
}

// countingWriter records what reaches the next interceptor.
type countingWriter struct {
	n    int
	seqs []uint16
	id   uint8
}

func (c *countingWriter) Write(h *rtp.Header, _ []byte, _ interceptor.Attributes) (int, error) {
	c.n++
	if v := h.GetExtension(c.id); len(v) == 2 {
		c.seqs = append(c.seqs, uint16(v[0])<<8|uint16(v[1]))
	}
	return 100, nil
}

func twccStream(id, absID int) *interceptor.StreamInfo {
	info := &interceptor.StreamInfo{SSRC: 7, RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: id}}}
	if absID > 0 {
		info.RTPHeaderExtensions = append(info.RTPHeaderExtensions, interceptor.RTPHeaderExtension{URI: sdp.ABSSendTimeURI, ID: absID})
	}
	return info
}

func TestEstimatorStampsPackets(t *testing.T) {
	e := NewEstimator()
	next := &countingWriter{id: 5, seqs: make([]uint16, 0, 1000)}
	w := e.AddStream(twccStream(5, 0), next)
	other := &countingWriter{id: 5}
	w2 := e.AddStream(twccStream(5, 0), other) // a second stream on the same PeerConnection
	h := &rtp.Header{Version: 2, SSRC: 7, Extensions: make([]rtp.Extension, 0, 4)}
	payload := make([]byte, 1000)
	for range 3 {
		_, _ = w.Write(h, payload, nil)
	}
	_, _ = w2.Write(h, payload, nil)
	_, _ = w.Write(h, payload, nil)
	if want := []uint16{0, 1, 2, 4}; len(next.seqs) != 4 || next.seqs[3] != 4 || next.seqs[0] != 0 {
		t.Errorf("stream 1 transport-wide sequence numbers %v, want %v (shared by the PeerConnection's streams)", next.seqs, want)
	}
	if len(other.seqs) != 1 || other.seqs[0] != 3 {
		t.Errorf("stream 2 transport-wide sequence numbers %v, want [3]", other.seqs)
	}
	if a := testing.AllocsPerRun(1000, func() { _, _ = w.Write(h, payload, nil) }); a != 0 {
		t.Errorf("Estimator write path allocates %.1f times per packet, want 0", a)
	}
	// Without the extension negotiated, the stream is left alone.
	plain := &countingWriter{}
	if got := e.AddStream(&interceptor.StreamInfo{SSRC: 8}, plain); got != interceptor.RTPWriter(plain) {
		t.Error("AddStream wrapped a stream without transport-cc")
	}
}

// link simulates a bottleneck: packets queue behind each other at capacity
// bit/s, plus a fixed propagation delay; every lossEvery-th packet is lost.
type link struct {
	capacity  int
	busyUntil int64
	lossEvery int
	n         int
}

// send returns when a packet of size bytes sent at µs arrives, or -1.
func (l *link) send(at int64, size int) int64 {
	l.n++
	if l.lossEvery > 0 && l.n%l.lossEvery == 0 {
		return -1
	}
	start := max(at, l.busyUntil)
	l.busyUntil = start + int64(size)*8*1e6/int64(l.capacity)
	return l.busyUntil + 20_000
}

// runLink sends at rate bit/s (1200-byte packets) over l for d, with a
// feedback every 100 ms, starting at µs, into s; it returns the estimates
// after each feedback and the end time.
func runLink(s *bweState, l *link, rate int, start, d int64) ([]int, int64) {
	const size = 1200
	gap := int64(size) * 8 * 1e6 / int64(rate)
	var out []int
	var batch []bweSample
	nextFB := start + 100_000
	t := start
	for ; t < start+d; t += gap {
		arr := l.send(t, size)
		batch = append(batch, bweSample{received: arr >= 0, size: size, send: t, arrival: arr + 5_000_000})
		if t >= nextFB {
			out = append(out, s.update(batch))
			batch = batch[:0]
			nextFB += 100_000
		}
	}
	return out, t
}

func TestBWEState(t *testing.T) {
	t.Run("below capacity: grows above the sending rate, no overuse", func(t *testing.T) {
		s := newBWEState(bweParams{})
		est, _ := runLink(s, &link{capacity: 5_000_000}, 2_000_000, 0, 10e6)
		final := est[len(est)-1]
		if final < 2_000_000 || final > 3_200_000 {
			t.Errorf("estimate after 10 s at 2 Mbit/s over 5 Mbit/s = %d, want 2..3.2 Mbit/s (1.5x delivered at most)", final)
		}
		if s.overusing {
			t.Error("overusing below capacity")
		}
	})
	t.Run("above capacity: falls below capacity", func(t *testing.T) {
		s := newBWEState(bweParams{initial: 3_000_000})
		runLink(s, &link{capacity: 10_000_000}, 2_000_000, 0, 3e6)
		est, _ := runLink(s, &link{capacity: 1_000_000}, 2_000_000, 3e6, 3e6)
		fell := -1
		for i, e := range est {
			if e < 1_000_000 {
				fell = i
				break
			}
		}
		if fell < 0 || fell > 15 {
			t.Errorf("sending 2 Mbit/s into 1 Mbit/s: estimates %v, want below 1 Mbit/s within 1.5 s", est)
		}
	})
	t.Run("loss: falls", func(t *testing.T) {
		s := newBWEState(bweParams{initial: 3_000_000})
		est, _ := runLink(s, &link{capacity: 50_000_000, lossEvery: 4}, 2_000_000, 0, 3e6)
		if final := est[len(est)-1]; final > 2_000_000*9/10 {
			t.Errorf("25%% loss: estimate %d, want below 90%% of the 2 Mbit/s sent", final)
		}
	})
	t.Run("recovers after congestion", func(t *testing.T) {
		s := newBWEState(bweParams{initial: 3_000_000})
		l := &link{capacity: 1_000_000}
		_, end := runLink(s, l, 2_000_000, 0, 3e6)
		low := s.estimate
		// The sender backs off below capacity; the queue drains.
		l.capacity = 5_000_000
		est, _ := runLink(s, l, 800_000, end, 20e6)
		if final := est[len(est)-1]; final <= low || final < 800_000 {
			t.Errorf("after congestion (estimate %d) and 20 s at 0.8 Mbit/s over 5 Mbit/s: %d, want it to rise above both", low, final)
		}
	})
}

// TestEstimatorFeedback runs packets through the send path and pion-built
// feedback through the RTCP path: the estimate follows, the callback fires,
// and repeated feedback (the same compound packet reaching several
// RTPSenders) is counted once.
func TestEstimatorFeedback(t *testing.T) {
	e := NewEstimator()
	var changes []int
	e.OnTargetBitrateChange(func(b int) { changes = append(changes, b) })
	next := &countingWriter{id: 5}
	w := e.AddStream(twccStream(5, 6), next)
	h := &rtp.Header{Version: 2, SSRC: 7, Extensions: make([]rtp.Extension, 0, 4)}
	payload := make([]byte, 1150)
	l := &link{capacity: 1_500_000}
	base := time.Now()
	// 1 Mbit/s into 1.5 Mbit/s for 3 s, then 3 Mbit/s for 3 s; feedback
	// every 33 packets.
	var seqs []uint16
	arrivals := map[uint16]int64{}
	var sent time.Duration
	var peak int
	for sent < 6*time.Second {
		var abs [3]byte
		putAbsSendTime(&abs, base.Add(sent))
		_ = h.SetExtension(6, abs[:])
		_, _ = w.Write(h, payload, nil)
		s := next.seqs[len(next.seqs)-1]
		seqs = append(seqs, s)
		if at := l.send(sent.Microseconds(), 1200); at >= 0 {
			arrivals[s] = at + 1_000_000_000
		}
		if sent < 3*time.Second {
			sent += 9 * time.Millisecond
		} else {
			sent += 3 * time.Millisecond
		}
		if len(seqs) == 33 {
			for _, b := range feedbackBytes(t, seqs, arrivals) {
				e.onRTCP(b)
				e.onRTCP(b) // a duplicate
			}
			seqs = seqs[:0]
			clear(arrivals)
			if sent < 3*time.Second {
				peak = e.GetTargetBitrate()
			}
		}
	}
	if peak < 1_000_000 {
		t.Errorf("estimate after 3 s at 1 Mbit/s over 1.5 Mbit/s = %d, want ≥ 1 Mbit/s", peak)
	}
	got := e.GetTargetBitrate()
	if got >= 1_500_000 || got < estimateMin {
		t.Errorf("estimate after 3 s of 3 Mbit/s into 1.5 Mbit/s = %d, want below 1.5 Mbit/s", got)
	}
	if len(changes) == 0 || changes[len(changes)-1] != got {
		t.Errorf("OnTargetBitrateChange calls %v, want the last to be %d", changes, got)
	}
	if st := e.GetStats(); st["feedbackPackets"].(uint64) < 50 {
		t.Errorf("stats %v: want ≥ 50 feedback packets", st)
	}
}

func TestOnlyTransportFeedback(t *testing.T) {
	// pion marshals the header as given: set it as a sender of feedback does.
	twcc, err := (&rtcp.TransportLayerCC{Header: rtcp.Header{Count: rtcp.FormatTCC, Type: rtcp.TypeTransportSpecificFeedback, Length: 5},
		SenderSSRC: 1, MediaSSRC: 2, BaseSequenceNumber: 5, PacketStatusCount: 1,
		PacketChunks: []rtcp.PacketStatusChunk{&rtcp.RunLengthChunk{PacketStatusSymbol: rtcp.TypeTCCPacketReceivedSmallDelta, RunLength: 1}},
		RecvDeltas:   []*rtcp.RecvDelta{{Type: rtcp.TypeTCCPacketReceivedSmallDelta, Delta: 250}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rr, _ := (&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2}}}).Marshal()
	nack, _ := (&rtcp.TransportLayerNack{SenderSSRC: 1, MediaSSRC: 2, Nacks: []rtcp.NackPair{{PacketID: 7}}}).Marshal()
	pli, _ := (&rtcp.PictureLossIndication{SenderSSRC: 1, MediaSSRC: 2}).Marshal()
	cat := func(bs ...[]byte) []byte {
		var out []byte
		for _, b := range bs {
			out = append(out, b...)
		}
		return out
	}
	cases := []struct {
		name string
		b    []byte
		want bool
	}{
		{"one feedback packet", twcc, true},
		{"two feedback packets", cat(twcc, twcc), true},
		{"receiver report", rr, false},
		{"feedback then NACK (same RTPFB type, other format)", cat(twcc, nack), false},
		{"PLI then feedback", cat(pli, twcc), false},
		{"truncated feedback", twcc[:len(twcc)-4], false},
		{"empty", nil, false},
	}
	for _, c := range cases {
		if got := OnlyTransportFeedback(c.b); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}
