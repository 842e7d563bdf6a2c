package media

import (
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// fakeWriter records what a DownTrack writes (or only counts it, for
// benchmarks), standing in for pion's interceptor chain and SRTP.
type fakeWriter struct {
	discard bool
	spin    time.Duration // busy time per write, standing in for SRTP and sendto
	mu      sync.Mutex
	pkts    []rtp.Packet
	n       int
}

func (w *fakeWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	if w.spin > 0 {
		for start := time.Now(); time.Since(start) < w.spin; {
		}
	}
	if w.discard {
		w.mu.Lock()
		w.n++
		w.mu.Unlock()
		return h.MarshalSize() + len(payload), nil
	}
	p := rtp.Packet{Header: h.Clone(), Payload: append([]byte(nil), payload...)}
	w.mu.Lock()
	w.pkts = append(w.pkts, p)
	w.mu.Unlock()
	return h.MarshalSize() + len(payload), nil
}

func (w *fakeWriter) Write(b []byte) (int, error) { return len(b), nil }

func (w *fakeWriter) take() []rtp.Packet {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.pkts
	w.pkts = nil
	return p
}

// fakeCtx is the TrackLocalContext pion would pass to Bind.
type fakeCtx struct {
	codecs []webrtc.RTPCodecParameters
	exts   []webrtc.RTPHeaderExtensionParameter
	ssrc   webrtc.SSRC
	rtx    webrtc.SSRC // negotiated repair SSRC, 0 without RTX
	w      *fakeWriter
}

func (c *fakeCtx) CodecParameters() []webrtc.RTPCodecParameters           { return c.codecs }
func (c *fakeCtx) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter { return c.exts }
func (c *fakeCtx) SSRC() webrtc.SSRC                                      { return c.ssrc }
func (c *fakeCtx) SSRCRetransmission() webrtc.SSRC                        { return c.rtx }
func (c *fakeCtx) SSRCForwardErrorCorrection() webrtc.SSRC                { return 0 }
func (c *fakeCtx) WriteStream() webrtc.TrackLocalWriter                   { return c.w }
func (c *fakeCtx) ID() string                                             { return "ctx" }
func (c *fakeCtx) RTCPReader() interceptor.RTCPReader                     { return nil }

// rtcpLog records what a Receiver sends upstream.
type rtcpLog struct {
	mu   sync.Mutex
	pkts []rtcp.Packet
}

func (l *rtcpLog) write(p []rtcp.Packet) error {
	l.mu.Lock()
	l.pkts = append(l.pkts, p...)
	l.mu.Unlock()
	return nil
}

func (l *rtcpLog) take() []rtcp.Packet {
	l.mu.Lock()
	defer l.mu.Unlock()
	p := l.pkts
	l.pkts = nil
	return p
}

// plis returns the media SSRCs of the PLIs in pkts.
func plis(pkts []rtcp.Packet) []uint32 {
	var out []uint32
	for _, p := range pkts {
		if pli, ok := p.(*rtcp.PictureLossIndication); ok {
			out = append(out, pli.MediaSSRC)
		}
	}
	return out
}

// nackedSeqs returns the sequence numbers NACKed in pkts for ssrc.
func nackedSeqs(pkts []rtcp.Packet, ssrc uint32) []uint16 {
	var out []uint16
	for _, p := range pkts {
		if n, ok := p.(*rtcp.TransportLayerNack); ok && n.MediaSSRC == ssrc {
			for _, pair := range n.Nacks {
				out = append(out, pair.PacketList()...)
			}
		}
	}
	return out
}

var vp8Codec = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	PayloadType:        96,
}

// testRig is a Receiver with a fake clock and upstream RTCP log.
type testRig struct {
	t    *testing.T
	r    *Receiver
	up   *rtcpLog
	now  int64
	seqs [MaxLayers]uint16
	tss  [MaxLayers]uint32
}

func newRig(t *testing.T, p ReceiverParams) *testRig { return newRigTB(t, t, p) }

// newRigTB is newRig for benchmarks too: tb gets the cleanup, t the
// helpers' failures.
func newRigTB(tb testing.TB, t *testing.T, p ReceiverParams) *testRig {
	rig := &testRig{t: t, up: &rtcpLog{}, now: 1}
	if p.WriteRTCP == nil {
		p.WriteRTCP = rig.up.write
	}
	if p.Codec.MimeType == "" {
		p.Codec = vp8Codec
		p.Kind = webrtc.RTPCodecTypeVideo
	}
	rig.r = NewReceiver(p)
	rig.r.clock = func() int64 { return rig.now }
	tb.Cleanup(rig.r.Close)
	return rig
}

// subscribe adds a bound DownTrack writing to a fakeWriter with SSRC ssrc
// and subscriber payload type pt.
func (g *testRig) subscribe(ssrc uint32, pt webrtc.PayloadType, exts []webrtc.RTPHeaderExtensionParameter, discard bool) (*DownTrack, *fakeWriter) {
	g.t.Helper()
	return g.subscribeTB(g.t, ssrc, pt, exts, discard)
}

func (g *testRig) subscribeTB(tb testing.TB, ssrc uint32, pt webrtc.PayloadType, exts []webrtc.RTPHeaderExtensionParameter, discard bool) (*DownTrack, *fakeWriter) {
	tb.Helper()
	dt, err := g.r.Subscribe(DownTrackParams{SubscriberID: "PA_sub", StreamID: "PA_pub|TR_x", SelectSVC: true})
	if err != nil {
		tb.Fatal(err)
	}
	c := g.r.p.Codec
	c.PayloadType = pt
	w := &fakeWriter{discard: discard}
	if _, err := dt.Bind(&fakeCtx{codecs: []webrtc.RTPCodecParameters{c}, exts: exts, ssrc: webrtc.SSRC(ssrc), w: w}); err != nil {
		tb.Fatalf("Bind: %v", err)
	}
	return dt, w
}

// vp8 sends one packet on layer: a VP8 payload that is a keyframe start when
// key, carrying layer and seq in its bytes. Time advances by dt ns first.
func (g *testRig) vp8(layer int, key bool, dt int64) {
	g.t.Helper()
	g.now += dt
	payload := []byte{0x10, 0x01, byte(layer), byte(g.seqs[layer] >> 8), byte(g.seqs[layer])}
	if key {
		payload[1] = 0x00
	}
	g.send(layer, payload, nil)
}

func (g *testRig) send(layer int, payload []byte, h *rtp.Header) {
	g.t.Helper()
	if h == nil {
		h = &rtp.Header{}
	}
	h.Version = 2
	h.SequenceNumber = g.seqs[layer]
	h.Timestamp = g.tss[layer]
	h.SSRC = uint32(1000 + layer)
	h.PayloadType = uint8(g.r.p.Codec.PayloadType)
	raw, err := (&rtp.Packet{Header: *h, Payload: payload}).Marshal()
	if err != nil {
		g.t.Fatal(err)
	}
	l, err := g.r.layer(layer)
	if err != nil {
		g.t.Fatal(err)
	}
	if err := g.r.write(l, raw, g.now); err != nil {
		g.t.Fatalf("write: %v", err)
	}
	g.seqs[layer]++
	g.tss[layer] += 3000
}

func timeNow() time.Time { return time.Now() }
