package media

import (
	"net"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// newAPI builds a webrtc.API restricted to loopback UDP. sfu selects the
// SFU's own configuration (ConfigureMediaEngine/ConfigureInterceptors);
// otherwise it is a plain pion client with pion's defaults, standing in for
// a browser.
func newAPI(t *testing.T, sfu bool, onEstimator func(string, cc.BandwidthEstimator)) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	reg := &interceptor.Registry{}
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
