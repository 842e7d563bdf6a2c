package sfu

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/sfu/internal/media"
)

// ProtocolVersionSinglePC is the protocol level reported on /rtc/v1, where a session is one
// PeerConnection (LiveKit's protocol 16). /rtc keeps ProtocolVersion.
const ProtocolVersionSinglePC = 16

// The single-PeerConnection session (/rtc/v1, docs/protocol.md): the client always offers
// and the server always answers, on one PeerConnection that carries both directions.
//
//   - Publishing is the dual-PC publisher PC unchanged: the client's send sections become
//     published tracks (onPublisherTrack), its data channels carry its data.
//   - Subscribing: the client pre-populates recvonly sections (livekit-client: 3 audio and 3
//     video in its first offer). Pion turns each into a send-capable transceiver without a
//     sender; a DownTrack is bound to a free one while the server answers an offer, and the
//     answer names it (msid "PA_…|TR_…", and mid_to_track_id). When the server has tracks
//     to add or remove and no offer is coming, it sends MediaSectionsRequirement with the
//     sections it lacks (possibly none): livekit-client adds that many recvonly transceivers
//     and offers again.
//   - A section whose track was removed is answered inactive once, and only reused after
//     that answer went out: a browser fires ontrack for a section only when it starts
//     receiving, so reusing it in the same answer would hide the new track.
//   - Data: the server sends on the client's own _reliable/_lossy channels.
//   - Resume: the client restarts ICE with a new offer; nothing is pending on the server.

// serverProtocol is the protocol level reported in p's JoinResponse.
func (p *participant) serverProtocol() int32 {
	if p.single != nil {
		return ProtocolVersionSinglePC
	}
	return ProtocolVersion
}

// singlePC drives a /rtc/v1 participant's PeerConnection. Every change to its senders and
// every offer/answer happens under mu, so pion never starts a sender that is being removed.
type singlePC struct {
	p    *participant
	pc   *webrtc.PeerConnection
	api  *webrtc.API
	side *pcSide

	mu        sync.Mutex
	joinOffer *livekit.SessionDescription // the offer sent with the join, answered by start
	joinAdds  []*livekit.AddTrackRequest  // add_track requests sent with the join
	started   bool                        // the JoinResponse is out
	closed    bool
	answers   uint32             // answers sent
	pending   []*media.DownTrack // waiting for a section, in subscription order
	bound     map[*media.DownTrack]*v1Binding
	freedAt   map[string]uint32 // mid -> answers sent when its sender was removed
	dirty     bool              // a removal the client has not been answered yet
	asked     bool              // a MediaSectionsRequirement was sent and no offer came since
	askGen    uint32            // counts requirements sent, so a stale re-ask timer does nothing
}

// reaskAfter is how long the server waits for the offer a MediaSectionsRequirement asks for
// before asking again: livekit-client drops a requirement that arrives while it is
// restarting its session (seen after a drain: video came back 10 s late, when an unrelated
// offer happened to bind the track).
const reaskAfter = time.Second

// v1Binding is a DownTrack on one of the client's sections.
type v1Binding struct {
	tr     *webrtc.RTPTransceiver
	sender *webrtc.RTPSender
	sent   bool // the answer naming it was queued: the client knows the track
}

// setupSinglePC creates the PeerConnection of a /rtc/v1 session; jr is its JoinRequest.
func (p *participant) setupSinglePC(jr *livekit.JoinRequest) error {
	pc, api, err := p.s.tr.newPeerConnectionAPI(pcParams{
		AllowCodec:  p.room.opts.allowsCodec,
		OnEstimator: func(_ string, est cc.BandwidthEstimator) { p.onEstimator(est) },
	})
	if err != nil {
		return err
	}
	p.pub = newPCSide(pc, livekit.SignalTarget_PUBLISHER, p.send)
	p.single = &singlePC{
		p: p, pc: pc, api: api, side: p.pub, joinOffer: jr.GetPublisherOffer(), joinAdds: jr.GetAddTrackRequests(),
		bound: make(map[*media.DownTrack]*v1Binding), freedAt: make(map[string]uint32),
	}
	pc.OnTrack(p.onPublisherTrack)
	pc.OnDataChannel(p.onPublisherDataChannel)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			p.onConnected()
		case webrtc.PeerConnectionStateFailed:
			p.log.Info("peer connection failed")
			p.close(closeParams{reason: livekit.DisconnectReason_MEDIA_FAILURE, sendLeave: true, action: livekit.LeaveRequest_RECONNECT})
		}
	})
	return nil
}

// start runs once the JoinResponse is queued: it answers the offer that came with the join
// (binding the tracks already subscribed to its sections), or asks for one.
func (s *singlePC) start() {
	s.mu.Lock()
	adds := s.joinAdds
	s.joinAdds = nil
	s.mu.Unlock()
	for _, req := range adds {
		s.p.handleAddTrack(req) // before the offer whose sections carry them
	}
	s.mu.Lock()
	s.started = true
	offer := s.joinOffer
	s.joinOffer = nil
	if offer == nil {
		s.askLocked()
	}
	s.mu.Unlock()
	if offer != nil {
		if err := s.handleOffer(offer); err != nil {
			s.p.log.Warn("join offer failed", "err", err)
		}
	}
}

// attach subscribes the client to dt: it is bound to a section at the next offer.
func (s *singlePC) attach(dt *media.DownTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.pending = append(s.pending, dt)
	s.askLocked()
}

// remove takes dt off the PeerConnection (it stops sending at once) and has the client
// offer again so its section is answered inactive.
func (s *singlePC) remove(dt *media.DownTrack) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range s.pending {
		if d == dt {
			s.pending = append(s.pending[:i], s.pending[i+1:]...)
			return
		}
	}
	b := s.bound[dt]
	if b == nil || s.closed {
		return
	}
	delete(s.bound, dt)
	// pion fails RemoveTrack only on a closed PC or a sender of another PC.
	_ = s.pc.RemoveTrack(b.sender)
	s.freedAt[b.tr.Mid()] = s.answers
	s.dirty = true
	s.askLocked()
}

// known reports whether the client has been sent the answer that carries dt.
func (s *singlePC) known(dt *media.DownTrack) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.bound[dt]
	return b != nil && b.sent
}

// resumed: the signal connection was replaced. The client restarts ICE with an offer of its
// own, which also binds anything pending; a requirement lost with the old connection is
// not waited for.
func (s *singlePC) resumed() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.asked = false
}

func (s *singlePC) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.pending = nil
}

// askLocked sends MediaSectionsRequirement when tracks wait for sections or a removal waits
// for an answer, and no offer has been asked for since the last one: the counts are the
// sections missing (zero still makes livekit-client offer).
func (s *singlePC) askLocked() {
	if !s.started || s.closed || s.asked || (len(s.pending) == 0 && !s.dirty) {
		return
	}
	free := s.freeSections(nil)
	var audios, videos uint32
	for _, dt := range s.pending {
		k := dt.Kind()
		if len(free[k]) > 0 {
			free[k] = free[k][1:]
			continue
		}
		if k == webrtc.RTPCodecTypeAudio {
			audios++
		} else {
			videos++
		}
	}
	s.asked = true
	s.askGen++
	gen := s.askGen
	time.AfterFunc(reaskAfter, func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.asked && s.askGen == gen {
			s.asked = false
			s.askLocked()
		}
	})
	s.p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_MediaSectionsRequirement{
		MediaSectionsRequirement: &livekit.MediaSectionsRequirement{NumAudios: audios, NumVideos: videos},
	}})
}

// freeSections lists, per kind, the transceivers a DownTrack may be bound to now: sections
// the client receives on (recvonly or sendrecv in its offer), without a sender, not freed
// since the last answer. remoteDir maps mid to the direction of the client's current offer
// (nil: read it from the remote description).
func (s *singlePC) freeSections(remoteDir map[string]webrtc.RTPTransceiverDirection) map[webrtc.RTPCodecType][]*webrtc.RTPTransceiver {
	if remoteDir == nil {
		remoteDir = remoteDirections(s.pc.RemoteDescription())
	}
	free := make(map[webrtc.RTPCodecType][]*webrtc.RTPTransceiver)
	for _, tr := range s.pc.GetTransceivers() {
		mid := tr.Mid()
		if mid == "" || tr.Sender() != nil {
			continue
		}
		if d := tr.Direction(); d != webrtc.RTPTransceiverDirectionSendonly && d != webrtc.RTPTransceiverDirectionInactive {
			continue // a section the client publishes on
		}
		if rd := remoteDir[mid]; rd != webrtc.RTPTransceiverDirectionRecvonly && rd != webrtc.RTPTransceiverDirectionSendrecv {
			continue
		}
		if at, ok := s.freedAt[mid]; ok && s.answers <= at {
			continue // still to be answered inactive
		}
		free[tr.Kind()] = append(free[tr.Kind()], tr)
	}
	return free
}

// remoteDirections maps each mid of desc to its direction (inactive for rejected sections).
func remoteDirections(desc *webrtc.SessionDescription) map[string]webrtc.RTPTransceiverDirection {
	out := make(map[string]webrtc.RTPTransceiverDirection)
	if desc == nil {
		return out
	}
	// Parsed from the text: desc is pion's own, and its Unmarshal caches into it (a race
	// with pion's goroutines).
	var parsed sdp.SessionDescription
	if err := parsed.UnmarshalString(desc.SDP); err != nil {
		return out
	}
	for _, m := range parsed.MediaDescriptions {
		mid, ok := m.Attribute(sdp.AttrKeyMID)
		if !ok {
			continue
		}
		dir := webrtc.RTPTransceiverDirectionSendrecv
		for _, a := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
			if _, ok := m.Attribute(a); ok {
				dir = webrtc.NewRTPTransceiverDirection(a)
			}
		}
		if m.MediaName.Port.Value == 0 {
			dir = webrtc.RTPTransceiverDirectionInactive
		}
		out[mid] = dir
	}
	return out
}

// handleOffer answers a client offer: apply it, bind pending DownTracks to free sections,
// answer with the mid -> track map, and ask for more sections if some still wait. A
// description pion refuses ends the participant, as on /rtc.
func (s *singlePC) handleOffer(sd *livekit.SessionDescription) error {
	p := s.p
	if sd == nil || sd.Type != "offer" {
		return p.failNegotiation(errors.New("offer of the wrong type"))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.asked = false
	if err := s.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sd.Sdp}); err != nil {
		return p.failNegotiation(fmt.Errorf("offer: %w", err))
	}
	s.side.remoteDescriptionSet()
	p.preferPublishedCodecs(s.pc, sd.Sdp)
	fresh := s.bindPendingLocked()
	answer, err := s.pc.CreateAnswer(nil)
	if err != nil {
		return p.failNegotiation(fmt.Errorf("answer: %w", err))
	}
	if err := s.pc.SetLocalDescription(answer); err != nil {
		if errors.Is(err, webrtc.ErrConnectionClosed) {
			return nil
		}
		return p.failNegotiation(fmt.Errorf("set local answer: %w", err))
	}
	mids := make(map[string]string, len(s.bound))
	for dt, b := range s.bound {
		if mid := b.tr.Mid(); mid != "" {
			mids[mid] = dt.ID()
		}
	}
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Answer{Answer: &livekit.SessionDescription{
		Type: "answer", Sdp: s.pc.LocalDescription().SDP, Id: sd.Id, MidToTrackId: mids,
	}}})
	s.answers++
	s.dirty = false
	s.side.descQueued()
	for _, dt := range fresh {
		b := s.bound[dt]
		b.sent = true
		go readSenderRTCP(b.sender, dt)
	}
	s.askLocked()
	return nil
}

// bindPendingLocked puts pending DownTracks on free sections of the current offer and
// returns those bound.
func (s *singlePC) bindPendingLocked() []*media.DownTrack {
	if len(s.pending) == 0 {
		return nil
	}
	free := s.freeSections(nil)
	s.p.log.Debug("binding subscribed tracks", "pending", len(s.pending), "free_audio", len(free[webrtc.RTPCodecTypeAudio]), "free_video", len(free[webrtc.RTPCodecTypeVideo]))
	var fresh []*media.DownTrack
	rest := s.pending[:0]
	for _, dt := range s.pending {
		k := dt.Kind()
		if len(free[k]) == 0 {
			rest = append(rest, dt)
			continue
		}
		tr := free[k][0]
		sender, err := s.api.NewRTPSender(dt, s.pc.SCTP().Transport())
		if err == nil {
			err = tr.SetSender(sender, dt)
		}
		if err != nil {
			s.p.log.Warn("bind subscribed track", "track", dt.ID(), "err", err)
			rest = append(rest, dt)
			continue
		}
		free[k] = free[k][1:]
		if prefs := dt.CodecPreferences(); len(prefs) > 0 {
			_ = tr.SetCodecPreferences(prefs) // from the same engine as the PC's
		}
		delete(s.freedAt, tr.Mid())
		// Writes before DTLS is up are dropped by pion; with the transport the DownTrack
		// waits for it and then asks for a fresh keyframe.
		dt.SetTransport(sender.Transport())
		s.bound[dt] = &v1Binding{tr: tr, sender: sender}
		fresh = append(fresh, dt)
	}
	s.pending = rest
	return fresh
}

// subscribeSingle is subscribe's tail on the single-PC path: dt is queued for a section of
// the client's next offer instead of getting a transceiver of its own.
func (p *participant) subscribeSingle(t *publishedTrack, placeholder *subscription, dt *media.DownTrack) {
	p.single.attach(dt)
	p.mu.Lock()
	if p.closing || p.subs[t.sid] != placeholder {
		p.mu.Unlock()
		p.single.remove(dt)
		t.recv.Unsubscribe(dt)
		dt.Close()
		return
	}
	placeholder.dt = dt
	settings := p.trackSettings[t.sid]
	p.mu.Unlock()

	p.alloc.Add(dt)
	if settings != nil {
		applyTrackSettings(placeholder, settings)
	}
	t.subscribersChanged()
	if t.firstSubscription() {
		t.owner.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackSubscribed{
			TrackSubscribed: &livekit.TrackSubscribed{TrackSid: t.sid},
		}})
	}
}

// clientHas reports whether the client knows sub's track (an offer or answer carrying it
// reached it), so stream states about it make sense to it.
func (p *participant) clientHas(sub *subscription) bool {
	if p.single != nil {
		return p.single.known(sub.dt)
	}
	return p.subNeg.answeredAfter(sub.offerBase)
}

// authorizeV1 is authorize for /rtc/v1: the join parameters come from join_request.
func (s *Server) authorizeV1(r *http.Request) joinAttempt {
	var jr *livekit.JoinRequest
	grants, room, join, status, err := s.authorizeJoin(r, func(r *http.Request) (access.JoinParams, error) {
		p, req, err := access.ParseJoinRequest(r)
		jr = req
		return p, err
	})
	return joinAttempt{grants: grants, room: room, join: join, status: status, err: err, v1: jr}
}

// handleRTCv1 is the /rtc/v1 signal WebSocket.
func (s *Server) handleRTCv1(w http.ResponseWriter, r *http.Request) {
	s.serveJoin(w, r, s.authorizeV1(r))
}

// handleValidateV1 answers what /rtc/v1 would: 200 "success", or the error and status.
func (s *Server) handleValidateV1(w http.ResponseWriter, r *http.Request) {
	if a := s.authorizeV1(r); a.err != nil {
		s.metrics.signalErrors.WithLabelValues(fmt.Sprintf("validate_%d", a.status)).Inc()
		http.Error(w, a.err.Error(), a.status)
		return
	}
	fmt.Fprint(w, "success")
}
