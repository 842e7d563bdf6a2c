package media

import (
	"encoding/binary"
	"errors"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// synthVP8 builds packet k (0..2) of frame f: a VP8 payload descriptor (S
// set on the first packet of the frame), the VP8 payload header byte whose
// low bit is 0 for a key frame (RFC 6386 §9.1), then the frame number and k
// so the receiving side can tell exactly which packet it got (49 bytes).
func synthVP8(f uint32, k int, key bool) []byte {
	b := make([]byte, 49)
	if k == 0 {
		b[0] = 0x10
	}
	b[1] = 0x01 // inter frame
	if key {
		b[1] = 0x00
	}
	binary.BigEndian.PutUint32(b[4:], f)
	b[8] = byte(k)
	return b
}

type sentFrame struct {
	key bool
	ts  uint32
}

// publishVP8 sends 3-packet VP8 frames every 10 ms on track until stop is
// closed: a key frame first and after every PLI (counted in plis), inter
// frames otherwise. It records each frame's kind and timestamp in frames.
func publishVP8(track *webrtc.TrackLocalStaticRTP, plis *atomic.Int32, stop <-chan struct{}, frames chan<- sentFrame) {
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
				Payload: synthVP8(f, k, key),
			}
			seq++
			if err := track.WriteRTP(p); err != nil {
				return
			}
		}
		frames <- sentFrame{key: key, ts: ts}
		ts += 900 // 10 ms at 90 kHz
	}
}

// TestLoopbackVP8 runs the whole media path through real pion
// PeerConnections on loopback: publisher PC -> SFU PC -> Receiver ->
// DownTrack -> SFU PC -> subscriber PC. The subscriber joins late; it must
// get a key frame first (requested by a PLI through the SFU), on the
// DownTrack's SSRC and payload type, with contiguous sequence numbers and
// the publisher's timestamp spacing, with the payload untouched.
func TestLoopbackVP8(t *testing.T) {
	sfuAPI := newAPI(t, true, nil)
	pub := newPC(t, newAPI(t, false, nil))
	sfuIn := newPC(t, sfuAPI)

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "video", "pub")
	if err != nil {
		t.Fatal(err)
	}
	pubSender, err := pub.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	var plis atomic.Int32
	go func() {
		for {
			pkts, _, err := pubSender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if _, ok := p.(*rtcp.PictureLossIndication); ok {
					plis.Add(1)
				}
			}
		}
	}()

	metrics := NewMetrics("test")
	receivers := make(chan *Receiver, 1)
	readDone := make(chan error, 1)
	sfuIn.OnTrack(func(tr *webrtc.TrackRemote, rx *webrtc.RTPReceiver) {
		r := NewReceiver(ReceiverParams{
			TrackID:          "TR_video",
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

	stop := make(chan struct{})
	pubDone := make(chan struct{})
	frames := make(chan sentFrame, 10000)
	go func() {
		defer close(pubDone)
		publishVP8(track, &plis, stop, frames)
	}()
	defer func() { close(stop); <-pubDone }()

	var r *Receiver
	select {
	case r = <-receivers:
	case <-time.After(5 * time.Second):
		t.Fatal("SFU got no track within 5 s")
	}
	time.Sleep(300 * time.Millisecond) // the subscriber joins late: the first key frame is long gone
	plisBefore := plis.Load()

	sfuOut := newPC(t, sfuAPI)
	sub := newPC(t, newAPI(t, false, nil))
	dt, err := r.Subscribe(DownTrackParams{SubscriberID: "PA_sub", StreamID: "PA_pub|TR_video", Codecs: Codecs(webrtc.RTPCodecTypeVideo)})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := sfuOut.AddTransceiverFromTrack(dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	if err := tx.SetCodecPreferences(dt.CodecPreferences()); err != nil {
		t.Fatalf("SetCodecPreferences: %v", err)
	}
	go func() {
		for {
			pkts, _, err := tx.Sender().ReadRTCP()
			if err != nil {
				return
			}
			dt.HandleRTCP(pkts)
		}
	}()
	got := make(chan *rtp.Packet, 10000)
	subPT := make(chan webrtc.PayloadType, 1)
	sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		subPT <- tr.PayloadType()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			got <- p
		}
	})
	subscribedAt := time.Now()
	negotiate(t, sfuOut, sub)

	const want = 90
	var pkts []*rtp.Packet
	timeout := time.After(10 * time.Second)
	for len(pkts) < want {
		select {
		case p := <-got:
			pkts = append(pkts, p)
		case <-timeout:
			t.Fatalf("subscriber got %d packets in 10 s, want %d", len(pkts), want)
		}
	}
	firstMediaAfter := time.Since(subscribedAt)
	t.Logf("subscribe -> %d packets: %v (first key frame within that)", want, firstMediaAfter)

	if plis.Load() == plisBefore {
		t.Errorf("publisher saw no PLI after the subscriber joined")
	}
	wantSSRC := uint32(tx.Sender().GetParameters().Encodings[0].SSRC)
	pt := <-subPT
	if pt != 96 {
		t.Errorf("negotiated payload type %d, want 96 (VP8 from CodecPreferences)", pt)
	}
	first := pkts[0]
	if first.Payload[0]&0x10 == 0 || first.Payload[1]&0x01 != 0 {
		t.Fatalf("first packet is not a key frame start: % x", first.Payload[:4])
	}
	firstFrame := binary.BigEndian.Uint32(first.Payload[4:])
	for i, p := range pkts {
		if p.SSRC != wantSSRC {
			t.Fatalf("packet %d: SSRC %d, want %d", i, p.SSRC, wantSSRC)
		}
		if p.PayloadType != uint8(pt) {
			t.Fatalf("packet %d: payload type %d, want %d", i, p.PayloadType, pt)
		}
		if i > 0 && p.SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d, want contiguous", i, p.SequenceNumber, pkts[i-1].SequenceNumber)
		}
		f := binary.BigEndian.Uint32(p.Payload[4:])
		k := int(p.Payload[8])
		if wantTS := first.Timestamp + (f-firstFrame)*900; p.Timestamp != wantTS {
			t.Fatalf("packet %d (frame %d): ts %d, want %d", i, f, p.Timestamp, wantTS)
		}
		if p.Marker != (k == 2) {
			t.Fatalf("packet %d: marker %v for packet %d of its frame", i, p.Marker, k)
		}
		if len(p.Payload) != 49 {
			t.Fatalf("packet %d: payload %d bytes, want 49", i, len(p.Payload))
		}
	}

	rs, ds := r.Stats(), dt.Stats()
	if rs.Packets < want || ds.Packets < want {
		t.Errorf("stats: receiver %d packets, downtrack %d, want >= %d", rs.Packets, ds.Packets, want)
	}
	if rs.PLIsSent == 0 {
		t.Errorf("receiver stats: PLIsSent = 0")
	}

	dt.Close()
	r.Close()
	_ = pub.Close()
	_ = sfuIn.Close()
	select {
	case err := <-readDone:
		if err != nil && !errors.Is(err, io.EOF) {
			t.Errorf("ReadFrom returned %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Errorf("ReadFrom did not return after Close")
	}
}
