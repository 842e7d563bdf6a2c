package sfu_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// rawSubscriber is a LiveKit subscriber driven by hand: a bare pion PeerConnection on a raw
// signal connection, so a test decides when, and whether, each server offer is answered.
// Server candidates are held until the offer they follow has been applied.
type rawSubscriber struct {
	t              *testing.T
	srv            *sfutest.Server
	room, identity string
	sid            string
	pc             *webrtc.PeerConnection

	mu       sync.Mutex
	c        *rawClient
	unread   bool // an offer was read and not applied yet
	held     []webrtc.ICECandidateInit
	received map[string]int // RTP packets per track id (the track sid)
}

func newRawSubscriber(t *testing.T, srv *sfutest.Server, room, identity string) *rawSubscriber {
	t.Helper()
	c := mustDialRaw(t, srv, room, identity)
	s := &rawSubscriber{t: t, srv: srv, room: room, identity: identity, sid: c.join.Participant.Sid, c: c, received: map[string]int{}}
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	pc, err := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	s.pc = pc
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		raw, _ := json.Marshal(cand.ToJSON())
		s.conn().send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
			CandidateInit: string(raw), Target: livekit.SignalTarget_SUBSCRIBER,
		}}})
	})
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		go func() {
			for {
				if _, _, err := tr.ReadRTP(); err != nil {
					return
				}
				s.mu.Lock()
				s.received[tr.ID()]++
				s.mu.Unlock()
			}
		}()
	})
	return s
}

func (s *rawSubscriber) conn() *rawClient {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.c
}

func (s *rawSubscriber) packets(trackSID string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.received[trackSID]
}

// read returns the next response matching want, applying server candidates on the way. A
// LeaveRequest (the server ending the session) fails the test.
func (s *rawSubscriber) read(what string, want func(*livekit.SignalResponse) bool) *livekit.SignalResponse {
	s.t.Helper()
	res := s.conn().readUntil(5*time.Second, func(r *livekit.SignalResponse) bool {
		if tr := r.GetTrickle(); tr != nil && tr.Target == livekit.SignalTarget_SUBSCRIBER {
			s.serverCandidate(tr.CandidateInit)
		}
		return r.GetLeave() != nil || want(r)
	})
	if res == nil {
		s.t.Fatalf("%s: timed out waiting for %s", s.identity, what)
	}
	if l := res.GetLeave(); l != nil {
		s.t.Fatalf("%s: the server sent a leave (%s, %s) instead of %s", s.identity, l.Reason, l.Action, what)
	}
	return res
}

func (s *rawSubscriber) serverCandidate(raw string) {
	var c webrtc.ICECandidateInit
	if raw == "" || json.Unmarshal([]byte(raw), &c) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.unread || s.pc.RemoteDescription() == nil {
		s.held = append(s.held, c)
		return
	}
	_ = s.pc.AddICECandidate(c)
}

// offer waits for a server offer whose SDP satisfies match (nil: any).
func (s *rawSubscriber) offer(what string, match func(sdp string) bool) *livekit.SessionDescription {
	s.t.Helper()
	o := s.read(what, func(r *livekit.SignalResponse) bool {
		return r.GetOffer() != nil && (match == nil || match(r.GetOffer().Sdp))
	}).GetOffer()
	s.mu.Lock()
	s.unread = true
	s.mu.Unlock()
	return o
}

// apply sets offer on the PeerConnection and returns the answer, without sending it.
func (s *rawSubscriber) apply(offer *livekit.SessionDescription) *livekit.SessionDescription {
	s.t.Helper()
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.Sdp}); err != nil {
		s.t.Fatalf("%s: set offer %d: %v", s.identity, offer.Id, err)
	}
	s.mu.Lock()
	s.unread = false
	held := s.held
	s.held = nil
	s.mu.Unlock()
	for _, c := range held {
		_ = s.pc.AddICECandidate(c)
	}
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		s.t.Fatalf("%s: answer offer %d: %v", s.identity, offer.Id, err)
	}
	if err := s.pc.SetLocalDescription(answer); err != nil {
		s.t.Fatalf("%s: set answer %d: %v", s.identity, offer.Id, err)
	}
	return &livekit.SessionDescription{Type: "answer", Sdp: s.pc.LocalDescription().SDP, Id: offer.Id}
}

func (s *rawSubscriber) sendAnswer(a *livekit.SessionDescription) {
	s.conn().send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{Answer: a}})
}

// answer applies offer and sends the answer, echoing its id as LiveKit's JS SDK does.
func (s *rawSubscriber) answer(offer *livekit.SessionDescription) {
	s.t.Helper()
	s.sendAnswer(s.apply(offer))
}

// subscribe sends an explicit (un)subscription and waits until the server has handled it:
// requests on one connection are handled in order, so the pong comes after it.
func (s *rawSubscriber) subscribe(trackSID string, on bool) {
	s.t.Helper()
	c := s.conn()
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Subscription{Subscription: &livekit.UpdateSubscription{
		TrackSids: []string{trackSID}, Subscribe: on,
	}}})
	s.sync()
}

// sync returns once the server has handled every request sent before it.
func (s *rawSubscriber) sync() {
	s.t.Helper()
	s.conn().send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Ping{Ping: time.Now().UnixMilli()}})
	s.read("a pong", func(r *livekit.SignalResponse) bool { return r.GetPong() != 0 })
}

// connected waits until the subscriber PeerConnection is connected.
func (s *rawSubscriber) connected() {
	s.t.Helper()
	eventually(s.t, 10*time.Second, s.identity+"'s subscriber PC to connect", func() bool {
		return s.pc.ConnectionState() == webrtc.PeerConnectionStateConnected
	})
}

// dropSignal closes the signal connection the way a network failure would.
func (s *rawSubscriber) dropSignal() {
	_ = s.conn().ws.Close()
}

// resume reconnects the signal connection as LiveKit SDKs do (reconnect=1&sid=…) and waits
// for the ReconnectResponse.
func (s *rawSubscriber) resume() {
	s.t.Helper()
	u := fmt.Sprintf("%s/rtc?access_token=%s&protocol=15&sdk=go&auto_subscribe=1&reconnect=1&sid=%s",
		s.srv.URL(), s.srv.Token(s.room, s.identity), s.sid)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, _, err := d.Dial(u, nil)
	if err != nil {
		s.t.Fatalf("%s: resume: %v", s.identity, err)
	}
	s.t.Cleanup(func() { ws.Close() })
	s.mu.Lock()
	s.c = &rawClient{t: s.t, ws: ws}
	s.mu.Unlock()
	s.read("a ReconnectResponse", func(r *livekit.SignalResponse) bool { return r.GetReconnect() != nil })
}

// mediaSection is one m-section of an SDP: its mid, direction and msid track id.
type mediaSection struct {
	kind, mid, direction, trackID string
}

func parseMedia(t *testing.T, raw string) []mediaSection {
	t.Helper()
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(raw); err != nil {
		t.Fatalf("parse SDP: %v", err)
	}
	var out []mediaSection
	for _, md := range sd.MediaDescriptions {
		m := mediaSection{kind: md.MediaName.Media}
		for _, a := range md.Attributes {
			switch a.Key {
			case "mid":
				m.mid = a.Value
			case "sendrecv", "sendonly", "recvonly", "inactive":
				m.direction = a.Key
			case "msid":
				if f := strings.Fields(a.Value); len(f) == 2 {
					m.trackID = f[1]
				}
			}
		}
		out = append(out, m)
	}
	return out
}

// sending lists the track ids an offer sends (sendonly or sendrecv media m-sections).
func sending(t *testing.T, raw string) []string {
	t.Helper()
	var ids []string
	for _, m := range parseMedia(t, raw) {
		if (m.kind == "audio" || m.kind == "video") && (m.direction == "sendonly" || m.direction == "sendrecv") {
			ids = append(ids, m.trackID)
		}
	}
	return ids
}

func sends(t *testing.T, raw, trackSID string) bool {
	for _, id := range sending(t, raw) {
		if id == trackSID {
			return true
		}
	}
	return false
}

// iceUfrag returns the first ice-ufrag of an SDP.
func iceUfrag(raw string) string {
	for _, l := range strings.Split(raw, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "a=ice-ufrag:"); ok {
			return v
		}
	}
	return ""
}
