package media

import (
	"runtime"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

var vp9Codec = webrtc.RTPCodecParameters{
	RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP9, ClockRate: 90000, SDPFmtpLine: "profile-id=0"},
	PayloadType:        98,
}

// vp9Packet is one single-packet layer frame of a non-flexible VP9 SVC stream.
func vp9Packet(pic uint16, sid, tid int, key bool) []byte {
	b0 := byte(0x80 | 0x20 | 0x08 | 0x04) // I, L, B, E
	if !key {
		b0 |= 0x40 // P
	}
	layer := byte(tid)<<5 | byte(sid)<<1
	if key && sid > 0 {
		layer |= 0x01 // D: upper layers of a keyframe predict from the lower one
	}
	return []byte{b0, 0x80 | byte(pic>>8), byte(pic), layer, byte(pic), 0xde, 0xad}
}

// sendPicture feeds one L3 picture (three spatial layers, one packet each, the marker on
// the last) on layer 0 of g and advances time by 33 ms.
func sendPicture(g *testRig, pic uint16, tid int, key bool) {
	g.t.Helper()
	g.now += 33 * ms
	for sid := range 3 {
		g.send(0, vp9Packet(pic, sid, tid, key), &rtp.Header{Marker: sid == 2})
		if sid < 2 {
			g.tss[0] -= 3000 // same picture, same timestamp
		}
	}
}

// TestVP9SVCPerSubscriber: two subscribers of one L3T1 stream, one asking for the low
// spatial layer: it gets S0's packets with the marker moved onto them and padding-only
// packets in place of S1/S2 (contiguous sequence numbers); the other gets everything as
// sent, and so does a relay sink (SelectSVC off) whatever layer it asks for. Raising the low
// subscriber's layer takes effect at the next keyframe, which is
// requested. A NACK for a gap is answered with padding again.
func TestVP9SVCPerSubscriber(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x", Kind: webrtc.RTPCodecTypeVideo, Codec: vp9Codec})
	g.r.AddLayer("", 1000)
	low, wl := g.subscribe(77, 98, nil, false)
	low.SetMaxLayer(0)
	_, wh := g.subscribe(88, 98, nil, false)
	// A relay sink (SelectSVC off) asking for layer 0 still gets every spatial layer.
	relay, err := g.r.Subscribe(DownTrackParams{SubscriberID: "relay:n2", StreamID: "PA_pub|TR_x"})
	if err != nil {
		t.Fatal(err)
	}
	wr := &fakeWriter{}
	if _, err := relay.Bind(&fakeCtx{codecs: []webrtc.RTPCodecParameters{vp9Codec}, ssrc: 99, w: wr}); err != nil {
		t.Fatal(err)
	}
	relay.SetMaxLayer(0)

	sendPicture(g, 1, 0, true)
	sendPicture(g, 2, 0, false)
	type seen struct {
		marker bool
		empty  bool
	}
	check := func(name string, got []rtp.Packet, want []seen) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: got %d packets, want %d", name, len(got), len(want))
		}
		for i, p := range got {
			if i > 0 && p.SequenceNumber != got[i-1].SequenceNumber+1 {
				t.Errorf("%s: packet %d seq %d after %d, want contiguous", name, i, p.SequenceNumber, got[i-1].SequenceNumber)
			}
			if p.Marker != want[i].marker || (len(p.Payload) == 0) != want[i].empty {
				t.Errorf("%s: packet %d marker=%t payload=%d bytes, want marker=%t empty=%t", name, i, p.Marker, len(p.Payload), want[i].marker, want[i].empty)
			}
			if want[i].empty && (!p.Padding || p.Header.PaddingSize == 0) {
				t.Errorf("%s: packet %d standing in for a layer is not a padding packet: %+v", name, i, p.Header)
			}
		}
	}
	lowPkts := wl.take()
	check("low", lowPkts, []seen{{true, false}, {false, true}, {false, true}, {true, false}, {false, true}, {false, true}})
	check("high", wh.take(), []seen{{false, false}, {false, false}, {true, false}, {false, false}, {false, false}, {true, false}})
	check("relay", wr.take(), []seen{{false, false}, {false, false}, {true, false}, {false, false}, {false, false}, {true, false}})
	if l := low.SpatialLayer(); l != 0 {
		t.Errorf("low subscriber's SpatialLayer() = %d, want 0", l)
	}

	// A NACK for a gap (S1 of picture 2) is answered with padding, not S1.
	low.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: []rtcp.NackPair{{PacketID: lowPkts[4].SequenceNumber}}}})
	if re := wl.take(); len(re) != 1 || len(re[0].Payload) != 0 || re[0].SequenceNumber != lowPkts[4].SequenceNumber {
		t.Errorf("NACK of a gap resent %v, want one padding packet with seq %d", re, lowPkts[4].SequenceNumber)
	}
	// A NACK for S0 of picture 2 resends it with the marker this subscriber saw.
	low.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: []rtcp.NackPair{{PacketID: lowPkts[3].SequenceNumber}}}})
	if re := wl.take(); len(re) != 1 || len(re[0].Payload) == 0 || !re[0].Marker {
		t.Errorf("NACK of S0 resent %v, want S0 with the marker", re)
	}

	g.up.take()
	g.now += 600 * ms // past the PLI throttle (SetMaxLayer(0) above asked for a keyframe)
	low.SetMaxLayer(2)
	sendPicture(g, 3, 0, false)
	if n := len(plis(g.up.take())); n == 0 {
		t.Error("raising the spatial layer requested no keyframe")
	}
	check("low raised, before the keyframe", wl.take(), []seen{{true, false}, {false, true}, {false, true}})
	g.now += 600 * ms // past the PLI throttle
	sendPicture(g, 4, 0, true)
	check("low raised, at the keyframe", wl.take(), []seen{{false, false}, {false, false}, {true, false}})
	if l := low.SpatialLayer(); l != 2 {
		t.Errorf("raised subscriber's SpatialLayer() = %d, want 2", l)
	}
}

// TestSpatialRates: the Allocator prices a VP9 SVC track per spatial layer, cumulatively
// (a layer needs every one below it), from the bytes each layer's packets carry.
func TestSpatialRates(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x", Kind: webrtc.RTPCodecTypeVideo, Codec: vp9Codec})
	g.r.AddLayer("", 1000)
	if _, ok := g.r.spatialRates(); ok {
		t.Fatal("spatialRates before any packet: ok, want not an SVC track yet")
	}
	for i := range 40 { // 40 pictures 33 ms apart: past one rate window
		sendPicture(g, uint16(i), 0, i == 0)
	}
	rates, ok := g.r.spatialRates()
	if !ok {
		t.Fatal("spatialRates of an L3 stream: not ok")
	}
	if !(rates[0] > 0 && rates[1] > rates[0] && rates[2] > rates[1]) || rates[1]-rates[0] != rates[0] || rates[2]-rates[1] != rates[0] {
		// Every layer frame here is one packet of the same size.
		t.Errorf("spatialRates = %v, want three equal cumulative steps", rates)
	}
}

// TestSVCForwardDoesNotAllocate: forwarding VP9 SVC to subscribers at different spatial
// layers (layer selection, padding in place of dropped layers) allocates nothing per packet.
func TestSVCForwardDoesNotAllocate(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x", Kind: webrtc.RTPCodecTypeVideo, Codec: vp9Codec,
		WriteRTCP: func([]rtcp.Packet) error { return nil }})
	g.r.AddLayer("", 1000)
	for i := range 6 {
		dt, _ := g.subscribe(uint32(2000+i), 98, nil, true)
		dt.SetMaxLayer(i % 3)
	}
	// One pre-marshalled packet per spatial layer; seq and timestamp are patched in place.
	var raws [3][]byte
	for sid := range 3 {
		payload := append(vp9Packet(1, sid, 0, true), make([]byte, 900)...)
		raw, err := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1000, PayloadType: 98, Marker: sid == 2}, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		raws[sid] = raw
	}
	var seq uint16
	picture := func(pic uint16) {
		for sid := range 3 {
			raw := raws[sid]
			seq++
			raw[2], raw[3] = byte(seq>>8), byte(seq)
			ts := uint32(pic) * 3000
			raw[4], raw[5], raw[6], raw[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
			if pic > 0 {
				raw[12] |= 0x40 // P: only the first picture is a keyframe
			}
			g.now += 1e6
			l, _ := g.r.layer(0)
			if err := g.r.write(l, raw, g.now); err != nil {
				t.Fatal(err)
			}
		}
	}
	for pic := range uint16(200) { // warm up: selectors created, every subscriber started
		picture(pic)
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for pic := range uint16(1000) {
		picture(200 + pic)
	}
	runtime.ReadMemStats(&after)
	if a := after.Mallocs - before.Mallocs; a > 2 {
		t.Errorf("forwarding 3000 VP9 SVC packets to 6 subscribers allocated %d times, want 0", a)
	}
	for _, dt := range g.r.DownTracks() {
		if st := dt.Stats(); st.Packets < 3000 || dt.SpatialLayer() != dt.MaxLayer() {
			t.Errorf("subscriber at max layer %d: %d packets, spatial layer %d", dt.MaxLayer(), st.Packets, dt.SpatialLayer())
		}
	}
}
