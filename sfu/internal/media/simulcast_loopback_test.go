package media

import (
	"encoding/binary"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// publishSimulcast sends 2-packet VP8 frames every 10 ms on each layer's
// track, each layer in its own sequence and timestamp space; a layer sends a
// key frame first and after each PLI for it. Payload byte 2 is the layer.
// Like a browser, it tags packets with the mid and rid header extensions
// (pion does not add them itself) so that the SFU can tell the layers apart.
func publishSimulcast(tracks []*webrtc.TrackLocalStaticRTP, plis []*atomic.Int32, mid string, midID, ridID uint8, stop <-chan struct{}) {
	type state struct {
		seq  uint16
		ts   uint32
		seen int32
	}
	st := []state{{seq: 100, ts: 1000}, {seq: 30000, ts: 2_000_000_000}, {seq: 65500, ts: 4_294_000_000}}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for f := uint32(0); ; f++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		for l, tr := range tracks {
			key := f == 0
			if n := plis[l].Load(); n != st[l].seen {
				st[l].seen, key = n, true
			}
			for k := range 2 {
				b := make([]byte, 20)
				if k == 0 {
					b[0] = 0x10
				}
				b[1] = 0x01
				if key {
					b[1] = 0x00
				}
				b[2] = byte(l)
				binary.BigEndian.PutUint32(b[4:], f)
				p := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: st[l].seq, Timestamp: st[l].ts, Marker: k == 1}, Payload: b}
				_ = p.SetExtension(midID, []byte(mid))
				_ = p.SetExtension(ridID, []byte(tr.RID()))
				st[l].seq++
				if err := tr.WriteRTP(p); err != nil {
					return
				}
			}
			st[l].ts += 900
		}
	}
}

// TestLoopbackSimulcast publishes three RID layers from a pion client, and
// checks that a subscriber's SetMaxLayer picks the forwarded layer through
// real PeerConnections, with a seamless stream across the switches.
func TestLoopbackSimulcast(t *testing.T) {
	sfuAPI := newAPI(t, true, nil)
	pub := newPC(t, newAPI(t, false, nil))
	sfuIn := newPC(t, sfuAPI)

	rids := []string{"q", "h", "f"}
	var tracks []*webrtc.TrackLocalStaticRTP
	for _, rid := range rids {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000},
			"video", "pub", webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	tx, err := pub.AddTransceiverFromTrack(tracks[0], webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range tracks[1:] {
		if err := tx.Sender().AddEncoding(tr); err != nil {
			t.Fatalf("AddEncoding: %v", err)
		}
	}
	plis := []*atomic.Int32{{}, {}, {}}
	for l, rid := range rids {
		go func() {
			for {
				pkts, _, err := tx.Sender().ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				for _, p := range pkts {
					if _, ok := p.(*rtcp.PictureLossIndication); ok {
						plis[l].Add(1)
					}
				}
			}
		}()
	}

	var (
		mu   sync.Mutex
		recv *Receiver
	)
	layersUp := make(chan int, 3)
	readers := sync.WaitGroup{}
	sfuIn.OnTrack(func(tr *webrtc.TrackRemote, rx *webrtc.RTPReceiver) {
		mu.Lock()
		if recv == nil {
			recv = NewReceiver(ReceiverParams{
				TrackID: "TR_sim", Kind: tr.Kind(), Codec: tr.Codec(),
				HeaderExtensions: rx.GetParameters().HeaderExtensions,
				WriteRTCP:        func(p []rtcp.Packet) error { return sfuIn.WriteRTCP(p) },
			})
		}
		r := recv
		mu.Unlock()
		l := r.AddLayer(tr.RID(), uint32(tr.SSRC()))
		layersUp <- l
		readers.Add(1)
		defer readers.Done()
		_ = r.ReadFrom(l, tr)
	})
	negotiate(t, pub, sfuIn)

	stop := make(chan struct{})
	pubDone := make(chan struct{})
	var midID, ridID uint8
	for _, e := range tx.Sender().GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			ridID = uint8(e.ID)
		}
	}
	if midID == 0 || ridID == 0 {
		t.Fatalf("mid/rid header extensions not negotiated: %+v", tx.Sender().GetParameters().HeaderExtensions)
	}
	go func() { defer close(pubDone); publishSimulcast(tracks, plis, tx.Mid(), midID, ridID, stop) }()
	defer func() { close(stop); <-pubDone }()

	var got []int
	for range 3 {
		select {
		case l := <-layersUp:
			got = append(got, l)
		case <-time.After(5 * time.Second):
			t.Fatalf("SFU saw layers %v within 5 s, want 3", got)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("layers %v, want [0 1 2]", got)
	}
	mu.Lock()
	r := recv
	mu.Unlock()

	sfuOut := newPC(t, sfuAPI)
	sub := newPC(t, newAPI(t, false, nil))
	dt, err := r.Subscribe(DownTrackParams{SubscriberID: "PA_sub", StreamID: "PA_pub|TR_sim", Codecs: Codecs(webrtc.RTPCodecTypeVideo)})
	if err != nil {
		t.Fatal(err)
	}
	otx, err := sfuOut.AddTransceiverFromTrack(dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			pkts, _, err := otx.Sender().ReadRTCP()
			if err != nil {
				return
			}
			dt.HandleRTCP(pkts)
		}
	}()
	pkts := make(chan *rtp.Packet, 10000)
	sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			pkts <- p
		}
	})
	negotiate(t, sfuOut, sub)

	var all []*rtp.Packet
	// waitLayer collects packets until n consecutive ones come from layer.
	waitLayer := func(layer, n int) {
		t.Helper()
		run := 0
		deadline := time.After(10 * time.Second)
		for run < n {
			select {
			case p := <-pkts:
				all = append(all, p)
				if int(p.Payload[2]) == layer {
					run++
				} else {
					run = 0
				}
			case <-deadline:
				t.Fatalf("no run of %d packets from layer %d within 10 s (current layer %d)", n, layer, dt.CurrentLayer())
			}
		}
	}
	waitLayer(2, 40)
	dt.SetMaxLayer(0)
	waitLayer(0, 40)
	dt.SetMaxLayer(1)
	waitLayer(1, 40)

	// At a switch the old and the new layer are written from different
	// goroutines, so the two packets around it may cross on the wire (and
	// loopback UDP may drop one, which a NACK repairs): check the stream in
	// sequence order, after the stragglers arrived.
	time.Sleep(200 * time.Millisecond)
	for drained := false; !drained; {
		select {
		case p := <-pkts:
			all = append(all, p)
		default:
			drained = true
		}
	}
	all = inSeqOrder(all)
	for i := 1; i < len(all); i++ {
		p, prev := all[i], all[i-1]
		if p.SequenceNumber != prev.SequenceNumber+1 {
			t.Fatalf("packet %d: seq %d after %d, want contiguous across switches", i, p.SequenceNumber, prev.SequenceNumber)
		}
		if d := int32(p.Timestamp - prev.Timestamp); d < 0 {
			t.Fatalf("packet %d: timestamp went back by %d at a switch (layer %d -> %d)", i, -d, prev.Payload[2], p.Payload[2])
		}
		if p.Payload[2] != prev.Payload[2] && (p.Payload[0]&0x10 == 0 || p.Payload[1]&0x01 != 0) {
			t.Fatalf("packet %d: switched to layer %d on a non-key packet", i, p.Payload[2])
		}
	}
	t.Logf("%d packets, switches 2 -> 0 -> 1 seamless", len(all))
	dt.Close()
	r.Close()
	_ = pub.Close()
	_ = sfuIn.Close()
	readers.Wait()
}

// inSeqOrder sorts packets by sequence number (unwrapped relative to the
// first) and drops duplicates.
func inSeqOrder(pkts []*rtp.Packet) []*rtp.Packet {
	if len(pkts) == 0 {
		return pkts
	}
	base := pkts[0].SequenceNumber
	rel := func(p *rtp.Packet) int { return int(int16(p.SequenceNumber - base)) }
	out := slices.Clone(pkts)
	slices.SortStableFunc(out, func(a, b *rtp.Packet) int { return rel(a) - rel(b) })
	return slices.CompactFunc(out, func(a, b *rtp.Packet) bool { return a.SequenceNumber == b.SequenceNumber })
}
