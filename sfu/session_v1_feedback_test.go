package sfu_test

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// TestSinglePCPublisherGetsCongestionFeedback: a client publishing on its /rtc/v1
// PeerConnection gets transport-cc feedback and receiver reports for what it sends. Without
// them a browser's congestion control never raises its rate (Chromium's estimate stays at
// its start value or falls to its 30 kbit/s floor) and it stops sending upper simulcast
// layers: the single PC once got only the send-side interceptors of a subscriber PC, and
// TestDynacast failed when Chromium never sent its top layer.
func TestSinglePCPublisherGetsCongestionFeedback(t *testing.T) {
	srv := serveV1(t)
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, webrtc.RTPCodecTypeVideo); err != nil {
		t.Fatal(err)
	}
	// The client stamps transport-wide sequence numbers, as a browser does.
	reg := &interceptor.Registry{}
	stamp, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	reg.Add(stamp)
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se), webrtc.WithInterceptorRegistry(reg)).
		NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	c := &v1Client{t: t, srv: srv, room: "feedback", id: "pub", pc: pc, mids: map[string]string{}, packets: map[string]int{}}

	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, "cam", "pub-stream")
	if err != nil {
		t.Fatal(err)
	}
	sender, err := pc.AddTrack(track)
	if err != nil {
		t.Fatal(err)
	}
	var feedback, reports atomic.Int32
	go func() {
		for {
			pkts, _, err := sender.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				switch p.(type) {
				case *rtcp.TransportLayerCC:
					feedback.Add(1)
				case *rtcp.ReceiverReport:
					reports.Add(1)
				}
			}
		}
	}()
	c.dial(&livekit.JoinRequest{
		ClientInfo:         &livekit.ClientInfo{Sdk: livekit.ClientInfo_JS, Version: "test", Protocol: 16},
		ConnectionSettings: &livekit.ConnectionSettings{AutoSubscribe: true},
		PublisherOffer:     c.localOffer(),
		AddTrackRequests: []*livekit.AddTrackRequest{{
			Cid: "cam", Name: "camera", Type: livekit.TrackType_VIDEO, Source: livekit.TrackSource_CAMERA, Width: 320, Height: 180,
		}},
	})

	// 100 packets a second (a VP8 keyframe descriptor and a few bytes each) until both kinds
	// of feedback came back, for at most 20 s.
	payload := []byte{0x10, 0x00, 0x9d, 0x01, 0x2a, 0x40, 0x01, 0xb4, 0x00}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for seq := uint16(1); time.Now().Before(deadline) && (feedback.Load() == 0 || reports.Load() == 0); seq++ {
		<-tick.C
		pkt := &rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: uint32(seq) * 900, Marker: true}, Payload: payload}
		if err := track.WriteRTP(pkt); err != nil {
			t.Fatalf("write rtp: %v", err)
		}
	}
	if feedback.Load() == 0 {
		t.Errorf("no transport-cc feedback for the published track in 20 s: a browser's congestion control cannot ramp up")
	}
	if reports.Load() == 0 {
		t.Errorf("no receiver report for the published track in 20 s")
	}
}
