package sfu_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestRawPublisher drives the publisher side by hand with a bare pion PeerConnection:
// add_track -> track_published (before media), offer -> answer (id echoed), trickle both
// ways with the right target, and track_subscribed once someone subscribes.
// The publisher runs once over UDP and once over ICE/TCP only.
func TestRawPublisher(t *testing.T) {
	for _, nt := range []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4} {
		t.Run(nt.String(), func(t *testing.T) { testRawPublisher(t, nt) })
	}
}

func testRawPublisher(t *testing.T, network webrtc.NetworkType) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.RTC.TCPAddr = "127.0.0.1:0" }))
	c := mustDialRaw(t, srv, "r", "raw")

	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{network})
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, "mic-cid", "stream")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		raw, _ := json.Marshal(cand.ToJSON())
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
			CandidateInit: string(raw), Target: livekit.SignalTarget_PUBLISHER,
		}}})
	})

	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{
		Cid: "mic-cid", Type: livekit.TrackType_AUDIO, Name: "mic", Source: livekit.TrackSource_MICROPHONE,
	}}})
	res := c.readUntil(3*time.Second, func(r *livekit.SignalResponse) bool { return r.GetTrackPublished() != nil })
	if res == nil || res.GetTrackPublished().Cid != "mic-cid" || !strings.HasPrefix(res.GetTrackPublished().Track.Sid, "TR_") {
		t.Fatalf("add_track: got %v, want track_published for mic-cid with a TR_ sid", res)
	}
	trackSID := res.GetTrackPublished().Track.Sid

	offer, err := pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: offer.SDP, Id: 7}}})
	var answered, remoteCandidate bool
	c.readUntil(5*time.Second, func(r *livekit.SignalResponse) bool {
		if a := r.GetAnswer(); a != nil {
			if a.Id != 7 {
				t.Errorf("answer id = %d, want the offer's 7", a.Id)
			}
			if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: a.Sdp}); err != nil {
				t.Fatalf("set answer: %v", err)
			}
			answered = true
		}
		if tr := r.GetTrickle(); tr != nil && tr.Target == livekit.SignalTarget_PUBLISHER && answered {
			var init webrtc.ICECandidateInit
			if json.Unmarshal([]byte(tr.CandidateInit), &init) == nil && pc.AddICECandidate(init) == nil &&
				strings.Contains(strings.ToLower(init.Candidate), " "+strings.TrimSuffix(network.String(), "4")+" ") {
				remoteCandidate = true // one the client can use
			}
		}
		return answered && remoteCandidate
	})
	if !answered || !remoteCandidate {
		t.Fatalf("publisher negotiation: answered %v, server candidate %v", answered, remoteCandidate)
	}
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond})
			}
		}
	}()

	sub := newSubscriber()
	join(t, srv, "r", "listener", sub.callback())
	eventually(t, 5*time.Second, "the listener to receive the raw track", func() bool {
		r, ok := sub.get(trackSID)
		return ok && r.packets > 5
	})
	if r := c.readUntil(3*time.Second, func(r *livekit.SignalResponse) bool { return r.GetTrackSubscribed() != nil }); r.GetTrackSubscribed().GetTrackSid() != trackSID {
		t.Errorf("track_subscribed = %v, want %s", r, trackSID)
	}
}
