package media

import (
	"runtime"
	"testing"

	"github.com/atrium-live/atrium/sfu/internal/forwarder"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	dto "github.com/prometheus/client_model/go"
)

// fanoutRig is a Receiver with n bound DownTracks writing to discarding
// writers, with metrics on and the header extensions a browser sends, so the
// measured path is the production one minus pion's SRTP.
type fanoutRig struct {
	g   *testRig
	raw []byte
	seq uint16
}

func newFanoutRig(tb testing.TB, n int) *fanoutRig {
	t, ok := tb.(*testing.T)
	if !ok {
		t = &testing.T{}
	}
	exts := []webrtc.RTPHeaderExtensionParameter{
		{URI: sdp.AudioLevelURI, ID: 1}, {URI: sdp.ABSSendTimeURI, ID: 2}, {URI: sdp.TransportCCURI, ID: 3},
		{URI: videoOrientationURI, ID: 4},
	}
	g := newRigTB(tb, t, ReceiverParams{
		TrackID: "TR_bench", HeaderExtensions: exts, Metrics: NewMetrics("bench"),
		WriteRTCP: func([]rtcp.Packet) error { return nil }, // pion's WriteRTCP, not measured here
	})
	g.r.AddLayer("", 1000)
	for i := range n {
		g.subscribeTB(tb, uint32(2000+i), 96, exts, true)
	}
	h := rtp.Header{Version: 2, SSRC: 1000, PayloadType: 96}
	_ = h.SetExtension(2, []byte{1, 2, 3})
	_ = h.SetExtension(3, []byte{0, 1})
	_ = h.SetExtension(4, []byte{0})
	payload := make([]byte, 1100)
	payload[0] = 0x10 // VP8 start of partition; payload[1] = 0: keyframe
	raw, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
	if err != nil {
		tb.Fatal(err)
	}
	f := &fanoutRig{g: g, raw: raw}
	f.packet() // the first (key)frame starts every subscriber
	f.raw[len(f.raw)-1100+1] = 0x01
	return f
}

// packet writes the next packet; every 50th is missing (a loss to NACK).
func (f *fanoutRig) packet() {
	f.seq++
	if f.seq%50 == 0 {
		f.seq++
	}
	f.raw[2], f.raw[3] = byte(f.seq>>8), byte(f.seq)
	ts := uint32(f.seq/3) * 3000
	f.raw[4], f.raw[5], f.raw[6], f.raw[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	f.g.now += 1e6
	l, _ := f.g.r.layer(0)
	_ = f.g.r.write(l, f.raw, f.g.now)
}

func benchFanout(b *testing.B, n int) {
	f := newFanoutRig(b, n)
	for range 1000 { // warm up to steady state
		f.packet()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		f.packet()
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/subscriber-write")
}

// BenchmarkFanout1 is one publisher packet to one subscriber: parse, buffer,
// stats, NACK bookkeeping, Forwarder, header rewrite, write.
func BenchmarkFanout1(b *testing.B) { benchFanout(b, 1) }

// BenchmarkFanout100 is one publisher packet to 100 subscribers.
func BenchmarkFanout100(b *testing.B) { benchFanout(b, 100) }

// BenchmarkForwarder is the pure decision alone.
func BenchmarkForwarder(b *testing.B) {
	f := forwarder.New(forwarder.Params{Kind: forwarder.Video, ClockRate: 90000})
	f.SetTargetLayer(0)
	p := forwarder.Packet{ExtSeq: 1 << 16, Keyframe: true}
	b.ReportAllocs()
	for b.Loop() {
		f.Forward(p)
		p.ExtSeq++
		p.TS += 3000
		p.Arrival += 1e6
		p.Keyframe = false
	}
}

// TestFanoutDoesNotAllocate guards the zero-allocation claim in plain
// `go test` runs, not only in benchmarks.
func TestFanoutDoesNotAllocate(t *testing.T) {
	f := newFanoutRig(t, 10)
	for range 1000 {
		f.packet()
	}
	// testing.AllocsPerRun rounds down, which would hide an allocation every
	// 50th packet (the NACK path); count the total instead.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 5000
	for range n {
		f.packet()
	}
	runtime.ReadMemStats(&after)
	if a := after.Mallocs - before.Mallocs; a > 2 { // tolerance for the runtime's own rare allocations
		t.Errorf("forwarding %d packets (1 in 50 lost and NACKed) to 10 subscribers allocated %d times, want 0", n, a)
	}
	var written uint64
	for _, dt := range f.g.r.DownTracks() {
		st := dt.Stats()
		if st.Packets < 5800 {
			t.Fatalf("DownTrack wrote %d packets, want >= 5800 (benchmark rig not forwarding)", st.Packets)
		}
		written += st.Packets
	}
	// The metrics are updated once per fan-out: they must still add up.
	var out dto.Metric
	if err := f.g.r.p.Metrics.PacketsOut.Write(&out); err != nil {
		t.Fatal(err)
	}
	if got := out.GetCounter().GetValue(); got != float64(written) {
		t.Errorf("packets_out_total = %v, want %d (the DownTracks' sum)", got, written)
	}
}
