package media

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/atrium-live/atrium/sfu/internal/vp8"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

const ms = int64(1e6)

// phase is a run of rounds (each round sends one packet per layer, in layer
// order, 3 ms apart) and the layers of the packets the subscriber must get.
type phase struct {
	name string
	do   func(g *testRig, dt *DownTrack)
	keys [MaxLayers]bool // keyframe on the first round of the phase, per layer
	runs int
	want []int
}

// TestSimulcastContinuity drives three simulcast layers with independent
// sequence and timestamp spaces through layer switches, a publisher mute and
// a subscriber pause, and checks that the subscriber sees one stream: its SSRC
// and payload type, contiguous sequence numbers, timestamps that never go
// back, the right layer in each phase, and retransmissions identical to the
// originals.
func TestSimulcastContinuity(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	for i, rid := range []string{"q", "h", "f"} {
		if got := g.r.AddLayer(rid, uint32(1000+i)); got != i {
			t.Fatalf("AddLayer(%q) = %d, want %d", rid, got, i)
		}
	}
	g.seqs = [MaxLayers]uint16{100, 5000, 65530}
	g.tss = [MaxLayers]uint32{1000, 2_000_000, 4_294_960_000}
	dt, w := g.subscribe(77, 102, nil, false)

	all3 := [3]bool{true, true, true}
	phases := []phase{
		{name: "start on the low layer (first keyframe)", keys: [3]bool{true, false, false}, runs: 3, want: []int{0, 0, 0}},
		{name: "up to the top layer at its keyframe", keys: [3]bool{false, false, true}, runs: 3, want: []int{0, 2, 2, 2}},
		{name: "capped at mid: top flows until mid's keyframe", do: func(_ *testRig, d *DownTrack) { d.SetMaxLayer(1) },
			runs: 2, want: []int{2, 2}},
		{name: "down to mid at its keyframe", keys: [3]bool{false, true, false}, runs: 2, want: []int{1, 1}},
		{name: "publisher muted", do: func(g *testRig, _ *DownTrack) { g.r.SetMuted(true) }, keys: all3, runs: 2},
		{name: "unmuted, waiting for a keyframe", do: func(g *testRig, _ *DownTrack) { g.r.SetMuted(false) }, runs: 2},
		{name: "resumed at the first keyframe, then mid", keys: all3, runs: 2, want: []int{0, 1, 1}},
		{name: "paused by the subscriber", do: func(_ *testRig, d *DownTrack) { d.SetEnabled(false) }, keys: all3, runs: 2},
		{name: "enabled again", do: func(_ *testRig, d *DownTrack) { d.SetEnabled(true) }, keys: [3]bool{true, false, false},
			runs: 2, want: []int{0, 0}},
		{name: "mid keyframe after resume", keys: [3]bool{false, true, false}, runs: 2, want: []int{0, 1, 1}},
	}

	var all []rtp.Packet
	for _, ph := range phases {
		if ph.do != nil {
			ph.do(g, dt)
		}
		for run := range ph.runs {
			for l := range MaxLayers {
				g.vp8(l, run == 0 && ph.keys[l], 3*ms)
			}
			g.now += 1 * ms
		}
		got := w.take()
		var layers []int
		for _, p := range got {
			layers = append(layers, int(p.Payload[2]))
		}
		if !slices.Equal(layers, ph.want) {
			t.Fatalf("%s: subscriber got packets of layers %v, want %v", ph.name, layers, ph.want)
		}
		all = append(all, got...)
	}
	for i, p := range all {
		if p.SSRC != 77 || p.PayloadType != 102 {
			t.Fatalf("packet %d: SSRC %d PT %d, want 77 and 102", i, p.SSRC, p.PayloadType)
		}
		if i == 0 {
			continue
		}
		prev := all[i-1]
		if p.SequenceNumber != prev.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d, want contiguous", i, p.SequenceNumber, prev.SequenceNumber)
		}
		if d := int32(p.Timestamp - prev.Timestamp); d <= 0 {
			t.Fatalf("packet %d: timestamp %d after %d, want strictly increasing (each packet is a new frame)", i, p.Timestamp, prev.Timestamp)
		}
	}

	// Keyframe requests went upstream for the layers being switched to.
	var pliSSRCs []uint32
	for _, s := range plis(g.up.take()) {
		if !slices.Contains(pliSSRCs, s) {
			pliSSRCs = append(pliSSRCs, s)
		}
	}
	slices.Sort(pliSSRCs)
	if want := []uint32{1001, 1002}; !slices.Equal(pliSSRCs, want) {
		t.Errorf("PLIs upstream for SSRCs %v, want %v", pliSSRCs, want)
	}

	// The subscriber NACKs everything: each retransmission must be the
	// original packet exactly, whichever layer it came from.
	var nacks []rtcp.NackPair
	for _, p := range all {
		nacks = append(nacks, rtcp.NackPair{PacketID: p.SequenceNumber})
	}
	dt.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: nacks}})
	re := w.take()
	if len(re) != len(all) {
		t.Fatalf("retransmitted %d packets, want %d", len(re), len(all))
	}
	for i := range re {
		a, b := all[i], re[i]
		if a.SequenceNumber != b.SequenceNumber || a.Timestamp != b.Timestamp || a.SSRC != b.SSRC ||
			a.PayloadType != b.PayloadType || a.Marker != b.Marker || !bytes.Equal(a.Payload, b.Payload) {
			t.Fatalf("retransmission %d = %v, want %v", i, b.Header, a.Header)
		}
	}
	if st := dt.Stats(); st.Retransmits != uint64(len(all)) || st.NacksRecv != uint64(len(all)) {
		t.Errorf("Stats() retransmits %d nacks %d, want %d each", st.Retransmits, st.NacksRecv, len(all))
	}
	// A NACK for another SSRC or an unknown sequence number sends nothing.
	dt.HandleRTCP([]rtcp.Packet{
		&rtcp.TransportLayerNack{MediaSSRC: 78, Nacks: nacks[:1]},
		&rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: []rtcp.NackPair{{PacketID: all[len(all)-1].SequenceNumber + 5}}},
	})
	if re := w.take(); len(re) != 0 {
		t.Errorf("retransmitted %d packets for bogus NACKs, want 0", len(re))
	}
}

func TestNackUpstream(t *testing.T) {
	metrics := NewMetrics("test")
	g := newRig(t, ReceiverParams{TrackID: "TR_x", Metrics: metrics})
	g.r.AddLayer("", 1000)
	g.subscribe(77, 96, nil, true)
	g.up.take()
	g.vp8(0, true, 1*ms)
	g.vp8(0, false, 1*ms)
	g.seqs[0] += 3 // three lost
	g.vp8(0, false, 1*ms)
	g.vp8(0, false, 25*ms) // past the 20 ms NACK check
	want := []uint16{2, 3, 4}
	if got := nackedSeqs(g.up.take(), 1000); !slices.Equal(got, want) {
		t.Fatalf("NACKed %v upstream, want %v", got, want)
	}
	// One arrives late (an RTX repair); the others are NACKed again 30 ms later.
	g.seqs[0] = 3
	g.vp8(0, false, 1*ms)
	g.seqs[0] = 7
	g.vp8(0, false, 40*ms)
	if got, want := nackedSeqs(g.up.take(), 1000), []uint16{2, 4}; !slices.Equal(got, want) {
		t.Fatalf("second NACK round %v, want %v", got, want)
	}
	if st := g.r.Stats(); st.NacksSent != 5 {
		t.Errorf("Stats().NacksSent = %d, want 5", st.NacksSent)
	}
	for name, c := range map[string]struct {
		got  float64
		want float64
	}{
		"nacks_sent_total":   {counterValue(t, metrics.NacksSent), 5},
		"packets_lost_total": {counterValue(t, metrics.PacketsLost), 3},
		"packets_in_total":   {counterValue(t, metrics.PacketsIn), 6},
	} {
		if c.got != c.want {
			t.Errorf("metric %s = %v, want %v", name, c.got, c.want)
		}
	}
}

func TestPLIThrottle(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	dt, _ := g.subscribe(77, 96, nil, true)
	g.vp8(0, true, 1*ms)
	g.now += 600 * ms
	g.up.take()
	pli := []rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 77}}
	steps := []struct {
		advance int64
		n       int
		want    int
	}{
		{0, 5, 1},
		{499 * ms, 3, 0},
		{2 * ms, 1, 1},
		{100 * ms, 1, 0},
		{500 * ms, 2, 1},
	}
	for i, s := range steps {
		g.now += s.advance
		for range s.n {
			dt.HandleRTCP(pli)
		}
		if got := plis(g.up.take()); len(got) != s.want || (s.want > 0 && got[0] != 1000) {
			t.Fatalf("step %d: %d subscriber PLIs sent %v upstream, want %d for SSRC 1000", i, s.n, got, s.want)
		}
	}
	// FIR is a keyframe request too; PLIs for another SSRC are ignored.
	g.now += 600 * ms
	dt.HandleRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: 5}})
	if got := plis(g.up.take()); len(got) != 0 {
		t.Fatalf("PLI for a foreign SSRC sent %v upstream", got)
	}
	dt.HandleRTCP([]rtcp.Packet{&rtcp.FullIntraRequest{MediaSSRC: 77}})
	if got := plis(g.up.take()); len(got) != 1 {
		t.Fatalf("FIR sent %d PLIs upstream, want 1", len(got))
	}
}

func TestHeaderExtensions(t *testing.T) {
	opus := webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}
	g := newRig(t, ReceiverParams{
		TrackID: "TR_a", Kind: webrtc.RTPCodecTypeAudio, Codec: opus,
		HeaderExtensions: []webrtc.RTPHeaderExtensionParameter{
			{URI: sdp.AudioLevelURI, ID: 1}, {URI: sdp.ABSSendTimeURI, ID: 2},
			{URI: sdp.TransportCCURI, ID: 3}, {URI: sdp.SDESMidURI, ID: 4},
		},
	})
	g.r.AddLayer("", 1000)
	_, w := g.subscribe(77, 109, []webrtc.RTPHeaderExtensionParameter{
		{URI: sdp.AudioLevelURI, ID: 5}, {URI: sdp.ABSSendTimeURI, ID: 7},
		{URI: sdp.TransportCCURI, ID: 9}, {URI: sdp.SDESMidURI, ID: 1},
	}, false)
	for range 60 {
		h := &rtp.Header{}
		for id, v := range map[uint8][]byte{1: {0x80 | 12}, 2: {1, 2, 3}, 3: {0, 9}, 4: []byte("a0")} {
			if err := h.SetExtension(id, v); err != nil {
				t.Fatal(err)
			}
		}
		g.now += 20 * ms
		g.send(0, []byte{0xfc, 0xff, 0xfe}, h)
	}
	got := w.take()
	if len(got) != 60 {
		t.Fatalf("subscriber got %d packets, want 60", len(got))
	}
	p := got[len(got)-1]
	if v := p.GetExtension(5); !bytes.Equal(v, []byte{0x80 | 12}) {
		t.Errorf("audio level on subscriber id 5 = % x, want 8c", v)
	}
	if v := p.GetExtension(7); len(v) != 3 || bytes.Equal(v, []byte{1, 2, 3}) {
		t.Errorf("abs-send-time on subscriber id 7 = % x, want 3 bytes of our own send time", v)
	}
	for _, id := range []uint8{1, 2, 3, 4, 9} {
		if v := p.GetExtension(id); v != nil {
			t.Errorf("extension id %d = % x forwarded, want dropped", id, v)
		}
	}
	if p.PayloadType != 109 || !bytes.Equal(p.Payload, []byte{0xfc, 0xff, 0xfe}) {
		t.Errorf("PT %d payload % x, want 109 and fc ff fe", p.PayloadType, p.Payload)
	}
	level, active := g.r.AudioLevel()
	if !active || level < 0.2 || level > 0.3 { // -12 dBov = 0.25
		t.Errorf("AudioLevel() = %.3f, %v, want ~0.25, true", level, active)
	}
	g.r.SetMuted(true)
	if _, active := g.r.AudioLevel(); active {
		t.Errorf("AudioLevel of a muted track is active")
	}
}

func TestPaddingKept(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	_, w := g.subscribe(77, 96, nil, false)
	g.vp8(0, true, 1*ms)
	h := &rtp.Header{Padding: true, PaddingSize: 4}
	g.send(0, []byte{0x00, 0x01, 0x02}, h)
	got := w.take()
	if len(got) != 2 {
		t.Fatalf("got %d packets, want 2", len(got))
	}
	p := got[1]
	if !p.Padding || p.Header.PaddingSize != 4 || !bytes.Equal(p.Payload, []byte{0x00, 0x01, 0x02}) {
		t.Errorf("padded packet forwarded as padding=%v size %d payload % x, want true, 4, 00 01 02", p.Padding, p.Header.PaddingSize, p.Payload)
	}
}

type sliceSource struct {
	pkts [][]byte
	err  error
}

func (s *sliceSource) Read(b []byte) (int, interceptor.Attributes, error) {
	if len(s.pkts) == 0 {
		return 0, nil, s.err
	}
	n := copy(b, s.pkts[0])
	s.pkts = s.pkts[1:]
	return n, nil, nil
}

func TestReadFromAndClose(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	dt, w := g.subscribe(77, 96, nil, false)
	var src sliceSource
	for i := range 5 {
		raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), SSRC: 1000}, Payload: []byte{0x10, 0x00}}).Marshal()
		src.pkts = append(src.pkts, raw)
	}
	src.err = io.EOF
	if err := g.r.ReadFrom(0, &src); err != nil {
		t.Fatalf("ReadFrom = %v, want nil at EOF", err)
	}
	if got := len(w.take()); got != 5 {
		t.Fatalf("forwarded %d packets, want 5", got)
	}
	boom := errors.New("boom")
	if err := g.r.ReadFrom(0, &sliceSource{err: boom}); !errors.Is(err, boom) {
		t.Errorf("ReadFrom = %v, want wrapped boom", err)
	}
	if err := g.r.ReadFrom(2, &src); !errors.Is(err, ErrNoLayer) {
		t.Errorf("ReadFrom(unknown layer) = %v, want ErrNoLayer", err)
	}

	g.r.Close()
	if !dt.IsClosed() {
		t.Errorf("DownTrack not closed by Receiver.Close")
	}
	raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 9, SSRC: 1000}, Payload: []byte{0x10, 0x00}}).Marshal()
	if err := g.r.WriteRTP(0, raw, timeNow()); !errors.Is(err, ErrClosed) {
		t.Errorf("WriteRTP after Close = %v, want ErrClosed", err)
	}
	if _, err := g.r.Subscribe(DownTrackParams{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close = %v, want ErrClosed", err)
	}
	if err := g.r.ReadFrom(0, &sliceSource{pkts: [][]byte{raw}, err: boom}); err != nil {
		t.Errorf("ReadFrom after Close = %v, want nil", err)
	}
}

func TestUnsubscribe(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	a, wa := g.subscribe(77, 96, nil, false)
	_, wb := g.subscribe(78, 96, nil, false)
	g.vp8(0, true, 1*ms)
	a.Close()
	a.Close() // idempotent
	g.vp8(0, false, 1*ms)
	if na, nb := len(wa.take()), len(wb.take()); na != 1 || nb != 2 {
		t.Errorf("after unsubscribing a: a got %d, b got %d, want 1 and 2", na, nb)
	}
	if n := len(g.r.DownTracks()); n != 1 {
		t.Errorf("DownTracks() has %d entries, want 1", n)
	}
}

func TestBindCodecMatch(t *testing.T) {
	h264 := func(fmtp string, pt webrtc.PayloadType) webrtc.RTPCodecParameters {
		return webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000, SDPFmtpLine: fmtp},
			PayloadType:        pt,
		}
	}
	pub := h264("level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=4d001f", 127)
	g := newRig(t, ReceiverParams{TrackID: "TR_x", Kind: webrtc.RTPCodecTypeVideo, Codec: pub})
	dt, err := g.r.Subscribe(DownTrackParams{Codecs: Codecs(webrtc.RTPCodecTypeVideo)})
	if err != nil {
		t.Fatal(err)
	}
	prefs := dt.CodecPreferences()
	if len(prefs) != 2 || prefs[0].PayloadType != 127 || prefs[1].MimeType != webrtc.MimeTypeRTX || rtxApt(prefs[1].SDPFmtpLine) != 127 {
		t.Fatalf("CodecPreferences() = %+v, want H.264 main (127) and its RTX only", prefs)
	}
	offered := []webrtc.RTPCodecParameters{
		h264("packetization-mode=1;profile-level-id=42e01f", 106),
		h264("packetization-mode=0;profile-level-id=4d001f", 39),
		h264("packetization-mode=1;profile-level-id=4d0032", 120),
	}
	c, err := dt.Bind(&fakeCtx{codecs: offered, ssrc: 1, w: &fakeWriter{}})
	if err != nil || c.PayloadType != 120 {
		t.Errorf("Bind picked %d, %v; want 120 (same profile and packetization mode)", c.PayloadType, err)
	}
	vp8Only := []webrtc.RTPCodecParameters{vp8Codec}
	if _, err := dt.Bind(&fakeCtx{codecs: vp8Only, ssrc: 1, w: &fakeWriter{}}); !errors.Is(err, webrtc.ErrUnsupportedCodec) {
		t.Errorf("Bind without H.264 = %v, want ErrUnsupportedCodec", err)
	}
}

func TestRetransmitGuard(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	dt, w := g.subscribe(77, 96, nil, false)
	for i := range 5 {
		g.vp8(0, i == 0, 10*ms)
	}
	sent := w.take()
	nack := []rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: []rtcp.NackPair{{PacketID: sent[2].SequenceNumber}}}}
	steps := []struct {
		advance int64
		want    int
	}{{0, 1}, {50 * ms, 0}, {49 * ms, 0}, {2 * ms, 1}, {10 * ms, 0}}
	for i, s := range steps {
		g.now += s.advance
		dt.HandleRTCP(nack)
		if got := len(w.take()); got != s.want {
			t.Fatalf("step %d: NACK resent %d packets, want %d", i, got, s.want)
		}
	}
}

// TestLayerStopsAndResumes: the publisher stops sending the layer a
// subscriber gets (its own congestion control); the subscriber falls back to
// the best layer still sent, and returns when the layer comes back.
func TestLayerStopsAndResumes(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	for i, rid := range []string{"q", "h", "f"} {
		g.r.AddLayer(rid, uint32(1000+i))
	}
	dt, w := g.subscribe(77, 96, nil, false)
	round := func(layers []int, key bool) {
		for _, l := range layers {
			g.vp8(l, key, 3*ms)
		}
		g.now += 30 * ms
	}
	round([]int{0, 1, 2}, true)
	if got := dt.CurrentLayer(); got != 2 {
		t.Fatalf("current layer %d, want 2", got)
	}
	g.up.take()
	// Layer 2 stops. Within the next second the subscriber keeps waiting
	// for it; after that it asks for layer 1.
	for range 40 {
		round([]int{0, 1}, false)
	}
	if got := plis(g.up.take()); !slices.Contains(got, 1001) {
		t.Fatalf("after layer 2 stopped, PLIs %v, want one for layer 1 (SSRC 1001)", got)
	}
	round([]int{0, 1}, true)
	if got := dt.CurrentLayer(); got != 1 {
		t.Fatalf("after layer 1's keyframe: current layer %d, want 1", got)
	}
	round([]int{0, 1, 2}, true) // layer 2 is back with a keyframe
	if got := dt.CurrentLayer(); got != 2 {
		t.Fatalf("after layer 2 resumed: current layer %d, want 2", got)
	}
	all := w.take()
	for i := 1; i < len(all); i++ {
		if all[i].SequenceNumber != all[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d", i, all[i].SequenceNumber, all[i-1].SequenceNumber)
		}
	}
}

// TestStreamRestart: the publisher's stream for a layer restarts with a new
// SSRC and sequence numbers; the subscriber's stream continues seamlessly
// from the next keyframe.
func TestStreamRestart(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	_, w := g.subscribe(77, 96, nil, false)
	g.seqs[0] = 30000
	for i := range 5 {
		g.vp8(0, i == 0, 10*ms)
	}
	if got := g.r.AddLayer("", 2000); got != 0 {
		t.Fatalf("AddLayer(same rid, new SSRC) = %d, want 0", got)
	}
	g.seqs[0] = 10 // far behind: would be "too old" for the old buffer
	for i := range 5 {
		g.vp8(0, i == 1, 10*ms)
	}
	all := w.take()
	if len(all) != 9 {
		t.Fatalf("got %d packets, want 9 (5, then 4 from the new stream's keyframe)", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].SequenceNumber != all[i-1].SequenceNumber+1 || int32(all[i].Timestamp-all[i-1].Timestamp) <= 0 {
			t.Fatalf("packet %d: seq %d ts %d after seq %d ts %d", i, all[i].SequenceNumber, all[i].Timestamp, all[i-1].SequenceNumber, all[i-1].Timestamp)
		}
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// TestVP8PictureIDContinuity: each simulcast layer numbers its pictures
// independently; the subscriber must see PictureID and TL0PICIDX continue
// across switches (one picture per packet here), and retransmissions carry
// the same rewritten numbers.
func TestVP8PictureIDContinuity(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	for i, rid := range []string{"q", "h", "f"} {
		g.r.AddLayer(rid, uint32(1000+i))
	}
	dt, w := g.subscribe(77, 96, nil, false)
	pics := [MaxLayers]uint16{100, 20000, 32760}
	tl0s := [MaxLayers]uint8{5, 100, 250}
	send := func(l int, key bool) {
		// X=1, S=1; I|L; 15-bit PictureID; TL0PICIDX; VP8 header byte.
		b := []byte{0x90, 0xc0, 0x80 | byte(pics[l]>>8), byte(pics[l]), tl0s[l], 0x01, byte(l)}
		if key {
			b[5] = 0x00
		}
		g.now += 3 * ms
		g.send(l, b, nil)
		pics[l] = (pics[l] + 1) & 0x7fff
		tl0s[l]++
	}
	round := func(key [MaxLayers]bool) {
		for l := range MaxLayers {
			send(l, key[l])
		}
	}
	round([3]bool{true, false, false}) // start on 0
	round([3]bool{})
	round([3]bool{false, false, true}) // up to 2
	for range 4 {
		round([3]bool{}) // layer 2's PictureID wraps
	}
	dt.SetMaxLayer(1)
	round([3]bool{false, true, false})
	round([3]bool{})

	all := w.take()
	var layers []int
	for i, p := range all {
		layers = append(layers, int(p.Payload[6]))
		d, ok := vp8.Parse(p.Payload)
		if !ok || !d.HasPictureID || !d.WidePicture {
			t.Fatalf("packet %d: bad descriptor % x", i, p.Payload[:5])
		}
		if i == 0 {
			continue
		}
		prev, _ := vp8.Parse(all[i-1].Payload)
		if d.PictureID != (prev.PictureID+1)&0x7fff || d.TL0PicIdx != prev.TL0PicIdx+1 {
			t.Fatalf("packet %d (layer %d): PictureID %d TL0 %d after %d/%d, want +1 each",
				i, p.Payload[6], d.PictureID, d.TL0PicIdx, prev.PictureID, prev.TL0PicIdx)
		}
	}
	if want := []int{0, 0, 0, 2, 2, 2, 2, 2, 1, 1}; !slices.Equal(layers, want) {
		t.Fatalf("layers %v, want %v", layers, want)
	}
	var nacks []rtcp.NackPair
	for _, p := range all {
		nacks = append(nacks, rtcp.NackPair{PacketID: p.SequenceNumber})
	}
	dt.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: nacks}})
	re := w.take()
	if len(re) != len(all) {
		t.Fatalf("retransmitted %d, want %d", len(re), len(all))
	}
	for i := range re {
		if !bytes.Equal(re[i].Payload, all[i].Payload) {
			t.Fatalf("retransmission %d payload % x, want % x", i, re[i].Payload, all[i].Payload)
		}
	}
}

// TestFreshKeyframeRequests: subscribers whose transport came up after the
// last PLI's keyframe may ask again after 250 ms instead of 500 ms; while a
// PLI is unanswered, joiners wait for its keyframe; a crowd of them does not
// multiply PLIs.
func TestFreshKeyframeRequests(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	g.now = 1000 * ms
	g.up.take()
	keyframeAt := func(at int64) {
		g.now = at*ms - ms
		g.vp8(0, true, ms)
	}
	steps := []struct {
		at        int64 // ms
		notBefore int64 // ms, 0: an ordinary request
		keyframe  int64 // ms: a keyframe arrives then, before the request
		want      bool
	}{
		{1000, 0, 0, true},        // ordinary PLI
		{1050, 0, 0, false},       // throttled 500 ms
		{1060, 1010, 0, false},    // transport up after it, but only 60 ms since
		{1300, 1010, 0, false},    // 300 ms, but the PLI is unanswered: its keyframe will serve this joiner
		{1320, 1315, 1310, true},  // the keyframe came before this joiner was up: a fresh PLI
		{1400, 1390, 0, false},    // another joiner 80 ms later: within 250 ms
		{1580, 1390, 0, false},    // 260 ms, but the 1320 PLI is unanswered
		{1600, 1595, 1590, true},  // answered before this one was up: fresh again
		{1700, 0, 0, false},       // ordinary requests still wait 500 ms
		{2100, 0, 0, true},        // ...and then go out
		{2120, 2110, 0, false},    // a joiner right after: within 250 ms
		{2400, 2110, 2130, false}, // the keyframe came after it was up: nothing to ask (it was served)
	}
	for i, s := range steps {
		if s.keyframe > 0 {
			keyframeAt(s.keyframe)
		}
		g.now = s.at * ms
		if got := g.r.requestKeyframe(0, s.notBefore*ms); got != s.want {
			t.Fatalf("step %d: requestKeyframe(at %d ms, notBefore %d ms) = %v, want %v", i, s.at, s.notBefore, got, s.want)
		}
	}
	if n := len(plis(g.up.take())); n != 4 {
		t.Errorf("%d PLIs sent upstream, want 4", n)
	}
}

func TestForeignPayloadTypeDropped(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	_, w := g.subscribe(77, 96, nil, false)
	g.vp8(0, true, ms)
	raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 63, SequenceNumber: g.seqs[0], SSRC: 1000}, Payload: []byte{1, 2, 3}}).Marshal()
	l, _ := g.r.layer(0)
	if err := g.r.write(l, raw, g.now+ms); !errors.Is(err, ErrPayloadType) {
		t.Errorf("write(PT 63 on a PT 96 track) = %v, want ErrPayloadType", err)
	}
	if n := len(w.take()); n != 1 {
		t.Errorf("subscriber got %d packets, want only the VP8 one", n)
	}
}

// TestReceiverReportStats: loss, jitter and RTT (RFC 3550 §6.4.1: now - LSR
// - DLSR) from the subscriber's receiver report for the DownTrack's SSRC.
func TestReceiverReportStats(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	dt, _ := g.subscribe(77, 96, nil, true)
	lsr := ntpShort(time.Now().Add(-80 * time.Millisecond))
	dlsr := uint32(30 * 65536 / 1000) // 30 ms in 1/65536 s
	dt.HandleRTCP([]rtcp.Packet{&rtcp.ReceiverReport{Reports: []rtcp.ReceptionReport{
		{SSRC: 5, FractionLost: 200, Jitter: 1, LastSenderReport: lsr, Delay: dlsr}, // another track's
		{SSRC: 77, FractionLost: 64, Jitter: 450, LastSenderReport: lsr, Delay: dlsr},
	}}})
	st := dt.Stats()
	if st.FractionLost != 0.25 || st.Jitter != 450 {
		t.Errorf("FractionLost %v Jitter %d, want 0.25 and 450", st.FractionLost, st.Jitter)
	}
	if st.RTT < 40*time.Millisecond || st.RTT > 70*time.Millisecond {
		t.Errorf("RTT = %v, want about 50 ms", st.RTT)
	}
}

// TestSequenceDiscontinuity: the publisher's sequence numbers restart (or
// jump) on the same SSRC; the subscriber's stream stays contiguous and
// resumes at the next keyframe.
func TestSequenceDiscontinuity(t *testing.T) {
	for _, tc := range []struct {
		name string
		to   uint16
	}{{"restart behind", 10}, {"jump ahead", 30000 + 5 + 20000}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newRig(t, ReceiverParams{TrackID: "TR_x"})
			g.r.AddLayer("", 1000)
			_, w := g.subscribe(77, 96, nil, false)
			g.seqs[0] = 30000
			for i := range 5 {
				g.vp8(0, i == 0, 10*ms)
			}
			g.seqs[0] = tc.to
			for i := range 8 {
				g.vp8(0, i == 5, 10*ms) // a keyframe after the discontinuity is detected
			}
			all := w.take()
			if len(all) != 5+3 {
				t.Fatalf("got %d packets, want 8 (5, then 3 from the keyframe on)", len(all))
			}
			if all[5].Payload[1]&0x01 != 0 {
				t.Fatalf("first packet after the discontinuity is not the keyframe")
			}
			for i := 1; i < len(all); i++ {
				if all[i].SequenceNumber != all[i-1].SequenceNumber+1 || int32(all[i].Timestamp-all[i-1].Timestamp) <= 0 {
					t.Fatalf("packet %d: seq %d ts %d after seq %d ts %d", i, all[i].SequenceNumber, all[i].Timestamp, all[i-1].SequenceNumber, all[i-1].Timestamp)
				}
			}
		})
	}
}

func TestSubscribedLayers(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	for i, rid := range []string{"q", "h", "f"} {
		g.r.AddLayer(rid, uint32(1000+i))
	}
	if got := g.r.SubscribedLayers(); got != [3]bool{} {
		t.Errorf("no subscribers: SubscribedLayers() = %v, want none", got)
	}
	a, _ := g.subscribe(77, 96, nil, true)
	b, _ := g.subscribe(78, 96, nil, true)
	c, _ := g.subscribe(79, 96, nil, true)
	a.SetMaxLayer(0)
	b.SetMaxLayer(0)
	c.SetMaxLayer(2)
	if got, want := g.r.SubscribedLayers(), [3]bool{true, false, true}; got != want {
		t.Errorf("SubscribedLayers() = %v, want %v", got, want)
	}
	c.SetEnabled(false)
	if got, want := g.r.SubscribedLayers(), [3]bool{true, false, false}; got != want {
		t.Errorf("with c paused: SubscribedLayers() = %v, want %v", got, want)
	}
	a.Close()
	b.Close()
	if got := g.r.SubscribedLayers(); got != [3]bool{} {
		t.Errorf("all gone or paused: SubscribedLayers() = %v, want none", got)
	}
}
