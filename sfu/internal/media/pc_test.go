package media

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// newAPI builds a webrtc.API restricted to loopback UDP. sfu selects the
// SFU's own configuration (ConfigureMediaEngine/ConfigureInterceptors);
// otherwise it is a plain pion client with pion's defaults, standing in for
// a browser.
func newAPI(t *testing.T, sfu bool, onEstimator func(string, cc.BandwidthEstimator)) *webrtc.API {
	t.Helper()
	return newAPIWith(t, sfu, onEstimator)
}

// newAPIWith is newAPI with extra interceptors registered first, i.e.
// closest to the network (so that a loss interceptor drops packets below
// pion's NACK generator and responder).
func newAPIWith(t *testing.T, sfu bool, onEstimator func(string, cc.BandwidthEstimator), first ...interceptor.Factory) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	reg := &interceptor.Registry{}
	for _, f := range first {
		reg.Add(f)
	}
	if sfu {
		if err := ConfigureMediaEngine(m); err != nil {
			t.Fatalf("ConfigureMediaEngine: %v", err)
		}
		if err := ConfigureInterceptors(m, reg, onEstimator); err != nil {
			t.Fatalf("ConfigureInterceptors: %v", err)
		}
	} else {
		if err := m.RegisterDefaultCodecs(); err != nil {
			t.Fatal(err)
		}
		if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
			t.Fatal(err)
		}
		// Browsers offer the audio level extension; pion does not by default.
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
			t.Fatal(err)
		}
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	for _, f := range first {
		if lf, ok := f.(*lossFactory); ok && !lf.send {
			// The loss interceptor drops packets after SRTP accepted them;
			// on a real network they never arrive, so the retransmission
			// (same sequence number) must not count as a replay.
			se.DisableSRTPReplayProtection(true)
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

// newSubscriberAPI is the SFU's API for a subscriber PeerConnection
// (ConfigureSubscriberInterceptors), as the session layer builds it.
func newSubscriberAPI(t *testing.T, onEstimator func(string, cc.BandwidthEstimator)) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	reg := &interceptor.Registry{}
	if err := ConfigureMediaEngine(m); err != nil {
		t.Fatalf("ConfigureMediaEngine: %v", err)
	}
	if err := ConfigureSubscriberInterceptors(m, reg, onEstimator); err != nil {
		t.Fatalf("ConfigureSubscriberInterceptors: %v", err)
	}
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

func newPC(t *testing.T, api *webrtc.API) *webrtc.PeerConnection {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatalf("NewPeerConnection: %v", err)
	}
	t.Cleanup(func() { _ = pc.Close() })
	return pc
}

// negotiate runs a full offer/answer between offerer and answerer with all
// candidates in the SDP and waits until both are connected.
func negotiate(t *testing.T, offerer, answerer *webrtc.PeerConnection) {
	t.Helper()
	offer, err := offerer.CreateOffer(nil)
	if err != nil {
		t.Fatalf("CreateOffer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(offerer)
	if err := offerer.SetLocalDescription(offer); err != nil {
		t.Fatalf("SetLocalDescription(offer): %v", err)
	}
	<-gathered
	if err := answerer.SetRemoteDescription(*offerer.LocalDescription()); err != nil {
		t.Fatalf("SetRemoteDescription(offer): %v", err)
	}
	answer, err := answerer.CreateAnswer(nil)
	if err != nil {
		t.Fatalf("CreateAnswer: %v", err)
	}
	gathered = webrtc.GatheringCompletePromise(answerer)
	if err := answerer.SetLocalDescription(answer); err != nil {
		t.Fatalf("SetLocalDescription(answer): %v", err)
	}
	<-gathered
	if err := offerer.SetRemoteDescription(*answerer.LocalDescription()); err != nil {
		t.Fatalf("SetRemoteDescription(answer): %v", err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for offerer.ConnectionState() != webrtc.PeerConnectionStateConnected ||
		answerer.ConnectionState() != webrtc.PeerConnectionStateConnected {
		if time.Now().After(deadline) {
			t.Fatalf("not connected after 10 s: offerer %v, answerer %v", offerer.ConnectionState(), answerer.ConnectionState())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// lossFactory builds interceptors that drop every nth video RTP packet of
// each stream, once: a retransmission of the same sequence number passes.
// send selects outgoing (publisher uplink) or incoming (subscriber downlink)
// packets.
type lossFactory struct {
	every   int
	send    bool
	dropped atomic.Int32
	seqs    sync.Map // uint16 sequence numbers dropped -> true
}

func (f *lossFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &lossInterceptor{f: f, seen: map[uint64]bool{}}, nil
}

type lossInterceptor struct {
	interceptor.NoOp
	f    *lossFactory
	mu   sync.Mutex
	n    int
	seen map[uint64]bool
}

// drop decides for the packet (ssrc, seq) of a stream whose media SSRC is
// media: only media packets, each sequence number once.
func (i *lossInterceptor) drop(media, ssrc uint32, seq uint16) bool {
	if ssrc != media {
		return false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	k := uint64(ssrc)<<16 | uint64(seq)
	if i.seen[k] {
		return false
	}
	i.seen[k] = true
	i.n++
	if i.n%i.f.every != 0 {
		return false
	}
	i.f.dropped.Add(1)
	i.f.seqs.Store(seq, true)
	return true
}

func (i *lossInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	if !i.f.send || !strings.HasPrefix(info.MimeType, "video/") {
		return w
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, a interceptor.Attributes) (int, error) {
		if i.drop(info.SSRC, h.SSRC, h.SequenceNumber) {
			return h.MarshalSize() + len(p), nil
		}
		return w.Write(h, p, a)
	})
}

func (i *lossInterceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if i.f.send || !strings.HasPrefix(info.MimeType, "video/") || strings.EqualFold(info.MimeType, webrtc.MimeTypeRTX) {
		return r // repairs (RTX streams) are not lost
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := r.Read(b, a)
			if err != nil || n < 12 {
				return n, attr, err
			}
			ssrc := uint32(b[8])<<24 | uint32(b[9])<<16 | uint32(b[10])<<8 | uint32(b[11])
			if !i.drop(info.SSRC, ssrc, uint16(b[2])<<8|uint16(b[3])) {
				return n, attr, err
			}
		}
	})
}
