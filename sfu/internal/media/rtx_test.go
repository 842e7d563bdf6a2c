package media

import (
	"bytes"
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

func TestRTXPayload(t *testing.T) {
	for _, c := range []struct {
		osn     uint16
		payload []byte
		want    []byte
	}{
		{0, nil, []byte{0, 0}},
		{1, []byte{0xaa}, []byte{0, 1, 0xaa}},
		{0x1234, []byte{1, 2, 3}, []byte{0x12, 0x34, 1, 2, 3}},
		{0xffff, []byte{0x90, 0x80}, []byte{0xff, 0xff, 0x90, 0x80}},
	} {
		dst := make([]byte, len(c.payload)+2)
		if got := rtxPayload(dst, c.osn, c.payload); !bytes.Equal(got, c.want) {
			t.Errorf("rtxPayload(%d, %x) = %x, want %x", c.osn, c.payload, got, c.want)
		}
	}
}

func rtxCodec(pt webrtc.PayloadType, fmtp string) webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmtp},
		PayloadType:        pt,
	}
}

func TestRTXPayloadType(t *testing.T) {
	h264 := webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264}, PayloadType: 102}
	for _, c := range []struct {
		name   string
		codecs []webrtc.RTPCodecParameters
		apt    webrtc.PayloadType
		want   uint8
	}{
		{"none negotiated", []webrtc.RTPCodecParameters{vp8Codec, h264}, 96, 0},
		{"repairs vp8", []webrtc.RTPCodecParameters{vp8Codec, rtxCodec(97, "apt=96"), h264, rtxCodec(103, "apt=102")}, 96, 97},
		{"repairs h264", []webrtc.RTPCodecParameters{vp8Codec, rtxCodec(97, "apt=96"), h264, rtxCodec(103, "apt=102")}, 102, 103},
		{"only another codec's", []webrtc.RTPCodecParameters{vp8Codec, rtxCodec(103, "apt=102")}, 96, 0},
		{"fmtp with spaces", []webrtc.RTPCodecParameters{rtxCodec(99, "rtx-time=3000; apt=98")}, 98, 99},
		{"no payload type", []webrtc.RTPCodecParameters{rtxCodec(97, "apt=0")}, 0, 0},
	} {
		if got := rtxPayloadType(c.codecs, c.apt); got != c.want {
			t.Errorf("%s: rtxPayloadType(apt %d) = %d, want %d", c.name, c.apt, got, c.want)
		}
	}
}

// TestCodecPreferencesWithRTX: a video DownTrack offers its codec and that codec's RTX,
// nothing else; audio has no RTX.
func TestCodecPreferencesWithRTX(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	dt, err := g.r.Subscribe(DownTrackParams{SubscriberID: "PA_sub", Codecs: Codecs(webrtc.RTPCodecTypeVideo)})
	if err != nil {
		t.Fatal(err)
	}
	got := dt.CodecPreferences()
	if len(got) != 2 || got[0].MimeType != webrtc.MimeTypeVP8 || got[1].MimeType != webrtc.MimeTypeRTX || rtxApt(got[1].SDPFmtpLine) != uint8(got[0].PayloadType) {
		t.Errorf("video CodecPreferences = %+v, want VP8 and its RTX", got)
	}
	opus := Codecs(webrtc.RTPCodecTypeAudio)[0]
	a := newRig(t, ReceiverParams{TrackID: "TR_a", Kind: webrtc.RTPCodecTypeAudio, Codec: opus})
	adt, err := a.r.Subscribe(DownTrackParams{SubscriberID: "PA_sub", Codecs: Codecs(webrtc.RTPCodecTypeAudio)})
	if err != nil {
		t.Fatal(err)
	}
	if got := adt.CodecPreferences(); len(got) != 1 || got[0].MimeType != webrtc.MimeTypeOpus {
		t.Errorf("audio CodecPreferences = %+v, want Opus alone", got)
	}
}

// TestRetransmitAsRTX: with RTX negotiated, a NACKed packet goes out on the repair SSRC
// with the RTX payload type, consecutive RTX sequence numbers, the original (munged)
// timestamp and marker, and the original sequence number ahead of the original payload.
// Without an RTX codec for the track's payload type (even with a repair SSRC, which pion
// sets for the whole PeerConnection) it goes out on the media SSRC as before.
func TestRetransmitAsRTX(t *testing.T) {
	for _, c := range []struct {
		name   string
		codecs []webrtc.RTPCodecParameters
		rtx    bool
	}{
		{"negotiated", []webrtc.RTPCodecParameters{vp8Codec, rtxCodec(97, "apt=96")}, true},
		{"other codec's rtx only", []webrtc.RTPCodecParameters{vp8Codec, rtxCodec(103, "apt=102")}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newRig(t, ReceiverParams{TrackID: "TR_x"})
			g.r.AddLayer("", 1000)
			dt, err := g.r.Subscribe(DownTrackParams{SubscriberID: "PA_sub", StreamID: "PA_pub|TR_x"})
			if err != nil {
				t.Fatal(err)
			}
			w := &fakeWriter{}
			if _, err := dt.Bind(&fakeCtx{codecs: c.codecs, ssrc: 77, rtx: 78, w: w}); err != nil {
				t.Fatal(err)
			}
			for i := range 6 {
				g.now += 10 * ms
				payload := []byte{0x10, 0x01, byte(i), 0xee}
				if i == 0 {
					payload[1] = 0x00
				}
				g.send(0, payload, &rtp.Header{Marker: i%2 == 1})
			}
			sent := w.take()
			if len(sent) != 6 {
				t.Fatalf("forwarded %d packets, want 6", len(sent))
			}
			var rtxSeqs []uint16
			for _, i := range []int{2, 3} {
				dt.HandleRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: []rtcp.NackPair{{PacketID: sent[i].SequenceNumber}}}})
				got := w.take()
				if len(got) != 1 {
					t.Fatalf("NACK of %d resent %d packets, want 1", sent[i].SequenceNumber, len(got))
				}
				p, orig := got[0], sent[i]
				if p.Timestamp != orig.Timestamp || p.Marker != orig.Marker {
					t.Errorf("resend of %d: ts %d marker %t, want %d %t", orig.SequenceNumber, p.Timestamp, p.Marker, orig.Timestamp, orig.Marker)
				}
				if !c.rtx {
					if p.SSRC != 77 || p.PayloadType != 96 || p.SequenceNumber != orig.SequenceNumber || !bytes.Equal(p.Payload, orig.Payload) {
						t.Errorf("resend without RTX = ssrc %d pt %d seq %d %x, want the original %d %d %d %x",
							p.SSRC, p.PayloadType, p.SequenceNumber, p.Payload, 77, 96, orig.SequenceNumber, orig.Payload)
					}
					continue
				}
				if p.SSRC != 78 || p.PayloadType != 97 {
					t.Errorf("RTX of %d on ssrc %d pt %d, want 78 and 97", orig.SequenceNumber, p.SSRC, p.PayloadType)
				}
				want := append([]byte{byte(orig.SequenceNumber >> 8), byte(orig.SequenceNumber)}, orig.Payload...)
				if !bytes.Equal(p.Payload, want) {
					t.Errorf("RTX payload %x, want OSN + original payload %x", p.Payload, want)
				}
				rtxSeqs = append(rtxSeqs, p.SequenceNumber)
			}
			st := dt.Stats()
			if st.Retransmits != 2 {
				t.Errorf("Stats().Retransmits = %d, want 2", st.Retransmits)
			}
			if c.rtx {
				if rtxSeqs[1] != rtxSeqs[0]+1 {
					t.Errorf("RTX sequence numbers %v, want consecutive", rtxSeqs)
				}
				if st.RTXPackets != 2 {
					t.Errorf("Stats().RTXPackets = %d, want 2", st.RTXPackets)
				}
			} else if st.RTXPackets != 0 {
				t.Errorf("Stats().RTXPackets = %d without RTX, want 0", st.RTXPackets)
			}
		})
	}
}

// countingInterceptor stands in for pion's sender reports: it counts the packets of the
// streams bound to it.
type countingInterceptor struct {
	interceptor.NoOp
	ssrcs []uint32
}

func (c *countingInterceptor) BindLocalStream(_ *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, a interceptor.Attributes) (int, error) {
		c.ssrcs = append(c.ssrcs, h.SSRC)
		return w.Write(h, p, a)
	})
}

func TestMainStreamOnly(t *testing.T) {
	inner := &countingInterceptor{}
	var written []uint32
	w := mainStreamOnly{inner}.BindLocalStream(&interceptor.StreamInfo{SSRC: 10, SSRCRetransmission: 11},
		interceptor.RTPWriterFunc(func(h *rtp.Header, _ []byte, _ interceptor.Attributes) (int, error) {
			written = append(written, h.SSRC)
			return 0, nil
		}))
	for _, ssrc := range []uint32{10, 11, 10, 11} {
		if _, err := w.Write(&rtp.Header{SSRC: ssrc}, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if want := []uint32{10, 10}; !equalU32(inner.ssrcs, want) {
		t.Errorf("wrapped interceptor saw %v, want only the media SSRC %v", inner.ssrcs, want)
	}
	if want := []uint32{10, 11, 10, 11}; !equalU32(written, want) {
		t.Errorf("written %v, want every packet %v", written, want)
	}
}

func equalU32(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestRetransmitLimit: one packet is resent at most maxResends times to one subscriber,
// however often it is NACKed (a pion subscriber repeats NACKs for packets repaired over RTX).
func TestRetransmitLimit(t *testing.T) {
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	g.r.AddLayer("", 1000)
	dt, w := g.subscribe(77, 96, nil, false)
	for i := range 5 {
		g.vp8(0, i == 0, 10*ms)
	}
	sent := w.take()
	nack := []rtcp.Packet{&rtcp.TransportLayerNack{MediaSSRC: 77, Nacks: []rtcp.NackPair{{PacketID: sent[2].SequenceNumber}}}}
	resent := 0
	for range 2 * maxResends {
		g.now += 101 * ms
		dt.HandleRTCP(nack)
		resent += len(w.take())
	}
	if resent != maxResends {
		t.Errorf("%d NACKs 101 ms apart resent the packet %d times, want %d", 2*maxResends, resent, maxResends)
	}
}
