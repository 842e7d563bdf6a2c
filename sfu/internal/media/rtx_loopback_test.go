package media

import (
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// newClientAPINoRTX is a pion client like newAPIWith(t, false, ...) whose media engine has
// VP8 and Opus but no RTX: a subscriber that does not speak RFC 4588.
func newClientAPINoRTX(t *testing.T, first ...interceptor.Factory) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	fb := []webrtc.RTCPFeedback{{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "transport-cc"}}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: fb},
		PayloadType:        96,
	}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2},
		PayloadType:        111,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	for _, f := range first {
		reg.Add(f)
	}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.DisableSRTPReplayProtection(true) // see newAPIWith: loss is injected after SRTP
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

// arrival is one packet a subscriber's transport delivered, before pion unwraps RTX.
type arrival struct {
	ssrc uint32
	pt   uint8
	seq  uint16
	osn  uint16 // first two payload bytes (the OSN of an RTX packet)
}

// watchFactory records every RTP packet of every incoming stream.
type watchFactory struct {
	mu  sync.Mutex
	got []arrival
}

func (f *watchFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &watchInterceptor{f: f}, nil
}

func (f *watchFactory) arrivals() []arrival {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]arrival(nil), f.got...)
}

type watchInterceptor struct {
	interceptor.NoOp
	f *watchFactory
}

func (w *watchInterceptor) BindRemoteStream(_ *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := r.Read(b, a)
		if err != nil {
			return n, attr, err
		}
		var h rtp.Header
		if hl, herr := h.Unmarshal(b[:n]); herr == nil {
			ar := arrival{ssrc: h.SSRC, pt: h.PayloadType, seq: h.SequenceNumber}
			if n-hl >= 2 {
				ar.osn = uint16(b[hl])<<8 | uint16(b[hl+1])
			}
			w.f.mu.Lock()
			w.f.got = append(w.f.got, ar)
			w.f.mu.Unlock()
		}
		return n, attr, err
	})
}

// TestLoopbackRTX: a pion subscriber that negotiated RTX loses every 13th video packet on its
// downlink; the SFU answers its NACKs with RTX packets on the repair SSRC the subscriber PC
// announced (a=ssrc-group:FID), with the RTX payload type and the lost packet's sequence
// number as OSN, and pion's RTX unwrapping repairs every loss. A subscriber without RTX gets
// the same repairs on the media SSRC.
func TestLoopbackRTX(t *testing.T) {
	for _, c := range []struct {
		name  string
		noRTX bool
	}{{"rtx negotiated", false}, {"no rtx", true}} {
		t.Run(c.name, func(t *testing.T) {
			down, watch := &lossFactory{every: 13}, &watchFactory{}
			lp := startLoop(t, vp8Case, loopOpts{lossDown: down, watchDown: watch, subNoRTX: c.noRTX})
			params := lp.tx.Sender().GetParameters()
			media, repair := uint32(params.Encodings[0].SSRC), uint32(params.Encodings[0].RTX.SSRC)
			var rtxPT uint8
			for _, codec := range params.Codecs {
				if codec.MimeType == webrtc.MimeTypeRTX && rtxApt(codec.SDPFmtpLine) == 96 {
					rtxPT = uint8(codec.PayloadType)
				}
			}
			if c.noRTX != (repair == 0) {
				t.Fatalf("sender's repair SSRC %d with noRTX=%t", repair, c.noRTX)
			}

			bySeq := map[uint16]bool{}
			var first uint16
			deadline := time.After(20 * time.Second)
			for len(bySeq) < 300 {
				select {
				case p := <-lp.got:
					if len(bySeq) == 0 {
						first = p.SequenceNumber
					}
					if p.SSRC != media {
						t.Fatalf("track delivered a packet of ssrc %d, want the media ssrc %d (RTX unwrapped)", p.SSRC, media)
					}
					bySeq[p.SequenceNumber] = true
				case <-deadline:
					t.Fatalf("subscriber got %d distinct packets in 20 s, want 300", len(bySeq))
				}
			}
			// Every sequence number from the first to 250 later is delivered (repairs of
			// the last losses may take a few NACK rounds on a loaded machine).
			wait := time.After(10 * time.Second)
			for missing := -1; missing != 0; {
				missing = 0
				for i := range uint16(250) {
					if !bySeq[first+i] {
						missing++
					}
				}
				if missing == 0 {
					break
				}
				select {
				case p := <-lp.got:
					bySeq[p.SequenceNumber] = true
				case <-wait:
					t.Fatalf("%d of the 250 packets after the first never arrived", missing)
				}
			}
			ds := lp.dt.Stats()
			var onRepair, osnLost int
			for _, a := range watch.arrivals() {
				if repair == 0 || a.ssrc != repair {
					continue
				}
				onRepair++
				if a.pt != rtxPT {
					t.Errorf("packet on the repair ssrc with payload type %d, want RTX's %d", a.pt, rtxPT)
				}
				if _, lost := down.seqs.Load(a.osn); lost {
					osnLost++
				}
			}
			t.Logf("downlink dropped %d, subscriber NACKed %d, SFU retransmitted %d (%d as RTX); %d packets seen on the repair ssrc, %d carrying a lost packet's OSN",
				down.dropped.Load(), ds.NacksRecv, ds.Retransmits, ds.RTXPackets, onRepair, osnLost)
			if down.dropped.Load() == 0 || ds.Retransmits == 0 {
				t.Fatalf("no loss (%d) or no retransmission (%d)", down.dropped.Load(), ds.Retransmits)
			}
			if c.noRTX {
				if ds.RTXPackets != 0 {
					t.Errorf("%d RTX packets to a subscriber without RTX", ds.RTXPackets)
				}
				return
			}
			if ds.RTXPackets != ds.Retransmits {
				t.Errorf("%d of %d retransmissions sent as RTX, want all", ds.RTXPackets, ds.Retransmits)
			}
			if onRepair == 0 || osnLost == 0 {
				t.Errorf("subscriber saw %d packets on the repair ssrc %d, %d naming a lost packet; want both > 0", onRepair, repair, osnLost)
			}
		})
	}
}
