package sfu

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
)

// maxPendingCandidates bounds remote candidates held before a remote description exists.
const maxPendingCandidates = 64

var errUnknownTarget = errors.New("sfu: trickle for an unknown PeerConnection")

// pcSide is one of a participant's PeerConnections plus its trickle bookkeeping: local
// candidates are held until the description they belong to has been queued (so the client
// never gets a candidate before the offer or answer), and remote candidates are held until a
// remote description is set.
type pcSide struct {
	pc     *webrtc.PeerConnection
	target livekit.SignalTarget
	send   func(*livekit.SignalResponse)

	mu            sync.Mutex
	descSent      bool
	heldLocal     []webrtc.ICECandidateInit
	pendingRemote []webrtc.ICECandidateInit
}

func newPCSide(pc *webrtc.PeerConnection, target livekit.SignalTarget, send func(*livekit.SignalResponse)) *pcSide {
	s := &pcSide{pc: pc, target: target, send: send}
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil {
			return
		}
		s.localCandidate(c.ToJSON())
	})
	return s
}

func (s *pcSide) localCandidate(c webrtc.ICECandidateInit) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.descSent {
		s.heldLocal = append(s.heldLocal, c)
		return
	}
	s.sendCandidate(c)
}

func (s *pcSide) sendCandidate(c webrtc.ICECandidateInit) {
	raw, err := json.Marshal(c)
	if err != nil {
		return
	}
	s.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Trickle{Trickle: &livekit.TrickleRequest{
		CandidateInit: string(raw), Target: s.target,
	}}})
}

// descQueued is called right after an offer or answer of this PC was queued.
func (s *pcSide) descQueued() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.descSent = true
	for _, c := range s.heldLocal {
		s.sendCandidate(c)
	}
	s.heldLocal = nil
}

// remoteCandidate adds (or holds) a candidate the client trickled.
func (s *pcSide) remoteCandidate(c webrtc.ICECandidateInit) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pc.RemoteDescription() == nil {
		if len(s.pendingRemote) >= maxPendingCandidates {
			return fmt.Errorf("sfu: %s: too many candidates before a remote description", s.target)
		}
		s.pendingRemote = append(s.pendingRemote, c)
		return nil
	}
	return s.pc.AddICECandidate(c)
}

// remoteDescriptionSet applies held remote candidates.
func (s *pcSide) remoteDescriptionSet() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.pendingRemote {
		_ = s.pc.AddICECandidate(c)
	}
	s.pendingRemote = nil
}

// negotiator drives the subscriber PC, where the server offers. One offer is in flight at a
// time; changes made meanwhile trigger one more offer after the answer. Requests are
// debounced briefly so a burst of subscriptions becomes one offer.
type negotiator struct {
	side *pcSide

	mu            sync.Mutex
	ready         bool // the JoinResponse is out: offers may be sent
	scheduled     bool
	waitingAnswer bool
	again         bool
	closed        bool
	offerID       uint32
	answeredID    uint32 // offerID of the last offer answered
	iceRestart    bool   // the next offer restarts ICE
	onError       func(error)
}

const negotiateDebounce = 10 * time.Millisecond

func newNegotiator(side *pcSide, onError func(error)) *negotiator {
	return &negotiator{side: side, onError: onError}
}

// negotiate asks for a (re)offer soon.
func (n *negotiator) negotiate() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || n.scheduled {
		return
	}
	if n.waitingAnswer || !n.ready {
		n.again = true
		return
	}
	n.scheduled = true
	time.AfterFunc(negotiateDebounce, n.offer)
}

// start allows offers (the client has its JoinResponse) and makes the first one.
func (n *negotiator) start() {
	n.mu.Lock()
	n.ready = true
	n.again = false
	n.mu.Unlock()
	n.negotiate()
}

// restart offers again at once with an ICE restart, abandoning an offer in flight (its
// answer may have been lost with a signal connection).
func (n *negotiator) restart() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || !n.ready {
		return
	}
	n.waitingAnswer = false
	n.again = false
	n.iceRestart = true
	if err := n.offerLocked(); err != nil && n.onError != nil {
		go n.onError(err)
	}
}

func (n *negotiator) offer() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.scheduled = false
	if n.closed {
		return
	}
	if n.waitingAnswer {
		n.again = true
		return
	}
	if err := n.offerLocked(); err != nil && n.onError != nil {
		go n.onError(err)
	}
}

func (n *negotiator) offerLocked() error {
	pc := n.side.pc
	if pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return nil
	}
	offer, err := pc.CreateOffer(&webrtc.OfferOptions{ICERestart: n.iceRestart})
	if err != nil {
		return fmt.Errorf("sfu: subscriber offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return fmt.Errorf("sfu: subscriber set local offer: %w", err)
	}
	n.iceRestart = false
	n.waitingAnswer = true
	n.offerID++
	n.side.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Offer{Offer: &livekit.SessionDescription{
		Type: "offer", Sdp: pc.LocalDescription().SDP, Id: n.offerID,
	}}})
	n.side.descQueued()
	return nil
}

// answer applies the client's answer and sends a pending re-offer.
func (n *negotiator) answer(sd webrtc.SessionDescription) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if !n.waitingAnswer {
		return errors.New("sfu: subscriber answer without an offer")
	}
	if err := n.side.pc.SetRemoteDescription(sd); err != nil {
		return fmt.Errorf("sfu: subscriber answer: %w", err)
	}
	n.waitingAnswer = false
	n.answeredID = n.offerID
	n.side.remoteDescriptionSet()
	if n.again && !n.closed {
		n.again = false
		return n.offerLocked()
	}
	return nil
}

// offers is the number of offers made so far.
func (n *negotiator) offers() uint32 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.offerID
}

// answeredAfter reports whether an offer made after the first base offers was answered:
// the client then knows every track added before base was read.
func (n *negotiator) answeredAfter(base uint32) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.answeredID > base
}

func (n *negotiator) close() {
	n.mu.Lock()
	n.closed = true
	n.mu.Unlock()
}

// handleTrickle routes a client candidate to the PC it names.
func (p *participant) handleTrickle(t *livekit.TrickleRequest) error {
	var side *pcSide
	switch t.Target {
	case livekit.SignalTarget_PUBLISHER:
		side = p.pub
	case livekit.SignalTarget_SUBSCRIBER:
		side = p.sub
	default:
		p.s.metrics.signalErrors.WithLabelValues("trickle_target").Inc()
		return fmt.Errorf("%w: target %d", errUnknownTarget, t.Target)
	}
	if t.CandidateInit == "" {
		return nil // end of candidates
	}
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal([]byte(t.CandidateInit), &c); err != nil {
		p.s.metrics.signalErrors.WithLabelValues("trickle_candidate").Inc()
		return fmt.Errorf("sfu: trickle candidate: %w", err)
	}
	if err := side.remoteCandidate(c); err != nil {
		p.s.metrics.signalErrors.WithLabelValues("trickle_candidate").Inc()
		return fmt.Errorf("sfu: trickle: %w", err)
	}
	return nil
}

// handlePublisherOffer answers the client's publisher offer. A description pion cannot
// parse ends this participant (with a LeaveRequest), never the room.
func (p *participant) handlePublisherOffer(sd *livekit.SessionDescription) error {
	if sd == nil || sd.Type != "offer" {
		return p.failNegotiation(errors.New("publisher offer of the wrong type"))
	}
	pc := p.pub.pc
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: sd.Sdp}); err != nil {
		return p.failNegotiation(fmt.Errorf("publisher offer: %w", err))
	}
	p.pub.remoteDescriptionSet()
	answer, err := pc.CreateAnswer(nil)
	if err != nil {
		return p.failNegotiation(fmt.Errorf("publisher answer: %w", err))
	}
	if err := pc.SetLocalDescription(answer); err != nil {
		return p.failNegotiation(fmt.Errorf("publisher set local answer: %w", err))
	}
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Answer{Answer: &livekit.SessionDescription{
		Type: "answer", Sdp: pc.LocalDescription().SDP, Id: sd.Id,
	}}})
	p.pub.descQueued()
	return nil
}

func (p *participant) handleSubscriberAnswer(sd *livekit.SessionDescription) error {
	if sd == nil || sd.Type != "answer" {
		return p.failNegotiation(errors.New("subscriber answer of the wrong type"))
	}
	if err := p.subNeg.answer(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sd.Sdp}); err != nil {
		return p.failNegotiation(err)
	}
	return nil
}

// failNegotiation disconnects a participant whose PeerConnection state can no longer be
// trusted, telling it why.
func (p *participant) failNegotiation(err error) error {
	p.s.metrics.signalErrors.WithLabelValues("sdp").Inc()
	p.close(closeParams{reason: livekit.DisconnectReason_STATE_MISMATCH, sendLeave: true, action: livekit.LeaveRequest_DISCONNECT})
	return err
}
