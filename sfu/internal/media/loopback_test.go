package media

import (
	"encoding/binary"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// codecCase describes how a synthetic publisher packetizes frames of one
// codec: payload(f, k, key) is packet k of frame f, and the frame number must
// be recoverable with frameOf. Every frame has three packets, 10 ms apart.
type codecCase struct {
	name      string
	cap       webrtc.RTPCodecCapability
	payload   func(f uint32, k int, key bool) []byte
	frameOf   func(p []byte) uint32
	isKeyHead func(p []byte) bool // first packet of a key frame; nil for audio
	wantPT    webrtc.PayloadType  // subscriber's negotiated payload type
	tsStep    uint32
	// noTransport skips DownTrack.SetTransport, exercising the fallback that
	// detects writes pion dropped before the subscriber's DTLS was up.
	noTransport bool
}

// VP8: descriptor (S on the first packet), payload header with the key frame
// bit (RFC 6386 §9.1: 0 = key), frame number, packet index.
var vp8Case = codecCase{
	name: "VP8",
	cap:  webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
	payload: func(f uint32, k int, key bool) []byte {
		b := make([]byte, 49)
		if k == 0 {
			b[0] = 0x10
		}
		b[1] = 0x01
		if key {
			b[1] = 0x00
		}
		binary.BigEndian.PutUint32(b[4:], f)
		b[8] = byte(k)
		return b
	},
	frameOf:   func(p []byte) uint32 { return binary.BigEndian.Uint32(p[4:]) },
	isKeyHead: func(p []byte) bool { return p[0]&0x10 != 0 && p[1]&0x01 == 0 },
	wantPT:    96,
	tsStep:    900,
}

// H.264 constrained baseline, packetization-mode=1: a key frame is SPS, PPS,
// IDR slice (single NAL unit packets, RFC 6184 §5.6); other frames are three
// non-IDR slices.
var h264Case = codecCase{
	name: "H264",
	cap: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"},
	payload: func(f uint32, k int, key bool) []byte {
		b := make([]byte, 40)
		b[0] = 0x41 // non-IDR slice
		if key {
			b[0] = []byte{0x67, 0x68, 0x65}[k] // SPS, PPS, IDR
		}
		binary.BigEndian.PutUint32(b[1:], f)
		return b
	},
	frameOf:   func(p []byte) uint32 { return binary.BigEndian.Uint32(p[1:]) },
	isKeyHead: func(p []byte) bool { return p[0] == 0x67 },
	wantPT:    106, // pion's default for 42e01f with packetization-mode=1
	tsStep:    900,
}

// Opus: any packet starts the stream.
var opusCase = codecCase{
	name: "Opus",
	cap:  webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
	payload: func(f uint32, k int, _ bool) []byte {
		b := make([]byte, 30)
		b[0] = 0xfc
		binary.BigEndian.PutUint32(b[1:], f*3+uint32(k))
		return b
	},
	frameOf: func(p []byte) uint32 { return binary.BigEndian.Uint32(p[1:]) / 3 },
	wantPT:  111,
	tsStep:  480,
}

// publish sends 3-packet frames every 10 ms until stop closes: a key frame
// first and after every PLI (counted in plis). With audioLevelID set, each
// packet carries an RFC 6464 level of -10 dBov.
func publish(c codecCase, track *webrtc.TrackLocalStaticRTP, plis *atomic.Int32, audioLevelID uint8, stop <-chan struct{}) {
	seq := uint16(65000) // wraps early on purpose
	ts := uint32(4_000_000_000)
	seenPLI := int32(0)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for f := uint32(0); ; f++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		key := f == 0
		if n := plis.Load(); n != seenPLI {
			seenPLI, key = n, true
		}
		for k := range 3 {
			p := &rtp.Packet{
				Header:  rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts, Marker: k == 2},
				Payload: c.payload(f, k, key),
			}
			if audioLevelID != 0 {
				_ = p.SetExtension(audioLevelID, []byte{0x80 | 10})
			}
			seq++
			if err := track.WriteRTP(p); err != nil {
				return
			}
		}
		ts += c.tsStep
	}
}

// TestLoopback runs the whole media path through real pion PeerConnections
// on loopback, per codec: publisher PC -> SFU PC -> Receiver -> DownTrack ->
// SFU PC -> subscriber PC. The subscriber joins late; video must start with
// a key frame (requested by a PLI through the SFU), on the DownTrack's SSRC
// and the negotiated payload type, with contiguous sequence numbers, the
// publisher's timestamp spacing and the payload untouched.
func TestLoopback(t *testing.T) {
	vp8Fallback := vp8Case
	vp8Fallback.name, vp8Fallback.noTransport = "VP8 without SetTransport", true
	for _, c := range []codecCase{vp8Case, h264Case, opusCase, vp8Fallback} {
		t.Run(c.name, func(t *testing.T) { testLoopback(t, c) })
	}
}

// loop is a running publisher -> SFU -> subscriber chain.
type loop struct {
	r        *Receiver
	dt       *DownTrack
	tx       *webrtc.RTPTransceiver
	got      chan *rtp.Packet
	subPT    chan webrtc.PayloadType
	plis     *atomic.Int32
	before   int32 // PLIs before the subscriber joined
	joinedAt time.Time
	connAt   time.Time
	close    func() error    // stops everything; returns ReadFrom's result
	ests     chan *Estimator // the SFU PeerConnections' estimators
}

// loopOpts adds packet loss (interceptors closest to the network) on the
// publisher's uplink and the subscriber's downlink.
type loopOpts struct {
	lossUp, lossDown *lossFactory
	// watchDown, if set, sees the subscriber's incoming packets after lossDown.
	watchDown interceptor.Factory
	// subNoRTX: the subscriber registers no RTX codec (a client without RFC 4588).
	subNoRTX bool
}

func startLoop(t *testing.T, c codecCase, o loopOpts) *loop {
	t.Helper()
	audio := c.isKeyHead == nil
	var upFactories, downFactories []interceptor.Factory
	if o.lossUp != nil {
		upFactories = append(upFactories, o.lossUp)
	}
	if o.lossDown != nil {
		downFactories = append(downFactories, o.lossDown)
	}
	if o.watchDown != nil {
		downFactories = append(downFactories, o.watchDown)
	}
	ests := make(chan *Estimator, 2)
	onEst := func(_ string, e cc.BandwidthEstimator) { ests <- e.(*Estimator) }
	sfuAPI := newAPI(t, true, onEst)
	subAPI := newSubscriberAPI(t, onEst) // the session layer's subscriber PCs
	pub := newPC(t, newAPIWith(t, false, nil, upFactories...))
	sfuIn := newPC(t, sfuAPI)

	track, err := webrtc.NewTrackLocalStaticRTP(c.cap, "track", "pub")
	if err != nil {
		t.Fatal(err)
	}
	pubSender, err := pub.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	lp := &loop{plis: &atomic.Int32{}, got: make(chan *rtp.Packet, 10000), subPT: make(chan webrtc.PayloadType, 1), ests: ests}
	go func() {
		for {
			pkts, _, err := pubSender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					lp.plis.Add(1)
				}
			}
		}
	}()

	metrics := NewMetrics("test")
	receivers := make(chan *Receiver, 1)
	readDone := make(chan error, 1)
	sfuIn.OnTrack(func(tr *webrtc.TrackRemote, rx *webrtc.RTPReceiver) {
		r := NewReceiver(ReceiverParams{
			TrackID:          "TR_x",
			Kind:             tr.Kind(),
			Codec:            tr.Codec(),
			HeaderExtensions: rx.GetParameters().HeaderExtensions,
			WriteRTCP:        func(p []rtcp.Packet) error { return sfuIn.WriteRTCP(p) },
			Metrics:          metrics,
		})
		l := r.AddLayer(tr.RID(), uint32(tr.SSRC()))
		receivers <- r
		readDone <- r.ReadFrom(l, tr)
	})
	negotiate(t, pub, sfuIn)

	var levelID uint8
	for _, e := range pubSender.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			levelID = uint8(e.ID)
		}
	}
	if audio && levelID == 0 {
		t.Fatalf("audio level extension not negotiated with the SFU")
	}
	stop := make(chan struct{})
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		publish(c, track, lp.plis, levelID, stop)
	}()
	stopPub := sync.OnceFunc(func() { close(stop); <-pubDone })
	t.Cleanup(stopPub)

	select {
	case lp.r = <-receivers:
	case <-time.After(5 * time.Second):
		t.Fatal("SFU got no track within 5 s")
	}
	time.Sleep(300 * time.Millisecond) // the subscriber joins late: the first key frame is long gone
	lp.before = lp.plis.Load()

	sfuOut := newPC(t, subAPI)
	subAPIClient := newAPIWith(t, false, nil, downFactories...)
	if o.subNoRTX {
		subAPIClient = newClientAPINoRTX(t, downFactories...)
	}
	sub := newPC(t, subAPIClient)
	lp.dt, err = lp.r.Subscribe(DownTrackParams{SubscriberID: "PA_sub", StreamID: "PA_pub|TR_x", Codecs: Codecs(lp.r.Kind())})
	if err != nil {
		t.Fatal(err)
	}
	lp.tx, err = sfuOut.AddTransceiverFromTrack(lp.dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.tx.SetCodecPreferences(lp.dt.CodecPreferences()); err != nil {
		t.Fatalf("SetCodecPreferences: %v", err)
	}
	if !c.noTransport {
		lp.dt.SetTransport(lp.tx.Sender().Transport())
	}
	go func() {
		for {
			pkts, _, err := lp.tx.Sender().ReadRTCP()
			if err != nil {
				return
			}
			lp.dt.HandleRTCP(pkts)
		}
	}()
	sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		lp.subPT <- tr.PayloadType()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			lp.got <- p
		}
	})
	lp.joinedAt = time.Now()
	negotiate(t, sfuOut, sub)
	lp.connAt = time.Now()

	lp.close = func() error {
		stopPub()
		lp.dt.Close()
		lp.r.Close()
		_ = pub.Close()
		_ = sfuIn.Close()
		select {
		case err := <-readDone:
			return err
		case <-time.After(5 * time.Second):
			return errors.New("ReadFrom did not return after Close")
		}
	}
	return lp
}

func testLoopback(t *testing.T, c codecCase) {
	audio := c.isKeyHead == nil
	lp := startLoop(t, c, loopOpts{})

	const want = 90
	var pkts []*rtp.Packet
	var firstAt time.Time
	timeout := time.After(10 * time.Second)
	for len(pkts) < want {
		select {
		case p := <-lp.got:
			if len(pkts) == 0 {
				firstAt = time.Now()
			}
			pkts = append(pkts, p)
		case <-timeout:
			t.Fatalf("subscriber got %d packets in 10 s, want %d", len(pkts), want)
		}
	}
	// Loopback UDP on a loaded machine may drop a packet, which a NACK
	// repairs a little later: check the stream in sequence order.
	first := pkts[0]
	time.Sleep(150 * time.Millisecond)
	for drained := false; !drained; {
		select {
		case p := <-lp.got:
			pkts = append(pkts, p)
		default:
			drained = true
		}
	}
	pkts = inSeqOrder(pkts)[:want]
	t.Logf("first packet %v after subscribing, %v after the subscriber PC connected", firstAt.Sub(lp.joinedAt), firstAt.Sub(lp.connAt))
	limit := 250 * time.Millisecond // a few frame intervals; the RTT is ~0 here
	if c.noTransport {
		limit = time.Second
	}
	if d := firstAt.Sub(lp.connAt); d > limit {
		t.Errorf("first packet %v after the subscriber connected, want < %v", d, limit)
	}

	if !audio && lp.plis.Load() == lp.before {
		t.Errorf("publisher saw no PLI after the subscriber joined")
	}
	wantSSRC := uint32(lp.tx.Sender().GetParameters().Encodings[0].SSRC)
	pt := <-lp.subPT
	if pt != c.wantPT {
		t.Errorf("negotiated payload type %d, want %d", pt, c.wantPT)
	}
	if pkts[0] != first {
		t.Fatalf("the first packet to arrive (seq %d) is not the first of the stream (seq %d)", first.SequenceNumber, pkts[0].SequenceNumber)
	}
	if !audio && !c.isKeyHead(first.Payload) {
		t.Fatalf("first packet is not a key frame start: % x", first.Payload[:4])
	}
	firstFrame := c.frameOf(first.Payload)
	for i, p := range pkts {
		if p.SSRC != wantSSRC || p.PayloadType != uint8(pt) {
			t.Fatalf("packet %d: SSRC %d PT %d, want %d and %d", i, p.SSRC, p.PayloadType, wantSSRC, pt)
		}
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d, want contiguous", i, p.SequenceNumber, pkts[i-1].SequenceNumber)
		}
		f := c.frameOf(p.Payload)
		if wantTS := first.Timestamp + (f-firstFrame)*c.tsStep; p.Timestamp != wantTS {
			t.Fatalf("packet %d (frame %d): ts %d, want %d", i, f, p.Timestamp, wantTS)
		}
		if wantP := c.payload(f, int(p.SequenceNumber-first.SequenceNumber+uint16(k0(c, first)))%3, false); len(p.Payload) != len(wantP) {
			t.Fatalf("packet %d: payload %d bytes, want %d", i, len(p.Payload), len(wantP))
		}
	}
	if audio {
		if l, active := lp.r.AudioLevel(); !active || l < 0.3 {
			t.Errorf("AudioLevel() = %.2f, %v, want ~0.32 (-10 dBov), true", l, active)
		}
	}
	// Header extensions carry the subscriber PC's ids: transport-wide
	// sequence numbers generated on that PC (one per packet), and the
	// publisher's audio level moved to the subscriber's id.
	var tccID, levelID uint8
	for _, e := range lp.tx.Sender().GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.TransportCCURI:
			tccID = uint8(e.ID)
		case sdp.AudioLevelURI:
			levelID = uint8(e.ID)
		}
	}
	if tccID == 0 || (audio && levelID == 0) {
		t.Fatalf("subscriber PC negotiated transport-cc id %d, audio level id %d", tccID, levelID)
	}
	seen := map[int]bool{}
	for i, p := range pkts {
		v := p.GetExtension(tccID)
		if len(v) != 2 {
			t.Fatalf("packet %d: transport-cc extension (id %d) = % x, want 2 bytes", i, tccID, v)
		}
		if n := int(v[0])<<8 | int(v[1]); seen[n] {
			t.Fatalf("packet %d: transport-wide sequence number %d repeated (forwarded from the publisher?)", i, n)
		} else {
			seen[n] = true
		}
		if audio {
			if lv := p.GetExtension(levelID); len(lv) != 1 || lv[0] != 0x80|10 {
				t.Fatalf("packet %d: audio level (id %d) = % x, want 8a", i, levelID, lv)
			}
		}
	}

	// The subscriber (pion's default interceptors) sends transport-cc
	// feedback every 100 ms, which the subscriber PC's estimator consumes.
	<-lp.ests // the publisher PC's
	est := <-lp.ests
	for deadline := time.Now().Add(3 * time.Second); est.GetStats()["feedbackPackets"].(uint64) == 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if st := est.GetStats(); st["feedbackPackets"].(uint64) == 0 || est.GetTargetBitrate() < estimateMin {
		t.Errorf("subscriber PC's estimator: %v, target %d: want feedback processed", st, est.GetTargetBitrate())
	}

	rs, ds := lp.r.Stats(), lp.dt.Stats()
	// The writer may not have counted the last packet yet when it arrives.
	if rs.Packets < want || ds.Packets < want-3 {
		t.Errorf("stats: receiver %d packets, downtrack %d, want >= %d", rs.Packets, ds.Packets, want)
	}
	if !audio && rs.PLIsSent == 0 {
		t.Errorf("receiver stats: PLIsSent = 0")
	}
	if err := lp.close(); err != nil && !errors.Is(err, io.EOF) {
		t.Errorf("ReadFrom returned %v, want nil", err)
	}
}

// TestLoopbackLossRepair loses every 17th video packet on the publisher's
// uplink and every 13th on the subscriber's downlink. The SFU NACKs the
// uplink losses (the pion publisher answers with RTX, which pion unwraps)
// and answers the subscriber's NACKs from its buffer: the subscriber must
// end up with every packet, each exactly as the publisher sent it.
func TestLoopbackLossRepair(t *testing.T) {
	up, down := &lossFactory{every: 17, send: true}, &lossFactory{every: 13}
	lp := startLoop(t, vp8Case, loopOpts{lossUp: up, lossDown: down})

	bySeq := map[uint16]*rtp.Packet{}
	var first *rtp.Packet
	deadline := time.After(10 * time.Second)
	for len(bySeq) < 300 {
		select {
		case p := <-lp.got:
			if first == nil {
				first = p
			}
			bySeq[p.SequenceNumber] = p
		case <-deadline:
			t.Fatalf("subscriber got %d distinct packets in 10 s, want 300", len(bySeq))
		}
	}
	time.Sleep(300 * time.Millisecond) // let the last repairs arrive
	for drained := false; !drained; {
		select {
		case p := <-lp.got:
			bySeq[p.SequenceNumber] = p
		default:
			drained = true
		}
	}
	rs, ds := lp.r.Stats(), lp.dt.Stats()
	t.Logf("uplink dropped %d, SFU NACKed %d, lost %d; downlink dropped %d, subscriber NACKed %d, SFU retransmitted %d",
		up.dropped.Load(), rs.NacksSent, rs.Lost, down.dropped.Load(), ds.NacksRecv, ds.Retransmits)
	// Every sequence number from the first to 250 later is there, with the
	// right frame timestamp.
	firstFrame := vp8Case.frameOf(first.Payload)
	for i := range uint16(250) {
		p, ok := bySeq[first.SequenceNumber+i]
		if !ok {
			t.Fatalf("seq %d (first + %d) never arrived", first.SequenceNumber+i, i)
		}
		f := vp8Case.frameOf(p.Payload)
		if want := first.Timestamp + (f-firstFrame)*900; p.Timestamp != want {
			t.Fatalf("seq %d: ts %d, want %d", p.SequenceNumber, p.Timestamp, want)
		}
	}
	if up.dropped.Load() == 0 || down.dropped.Load() == 0 {
		t.Fatalf("no loss injected (up %d, down %d)", up.dropped.Load(), down.dropped.Load())
	}
	if rs.NacksSent == 0 || ds.Retransmits == 0 {
		t.Errorf("stats: NACKs sent upstream %d, retransmissions %d, want both > 0", rs.NacksSent, ds.Retransmits)
	}
	if err := lp.close(); err != nil {
		t.Errorf("close: %v", err)
	}
}

// k0 is the index within its frame of the first packet received (0 for
// video, which starts at a key frame).
func k0(c codecCase, first *rtp.Packet) int {
	if c.isKeyHead != nil {
		return 0
	}
	return int(binary.BigEndian.Uint32(first.Payload[1:]) % 3)
}
