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
//
// The negotiator is the only code that changes the subscriber PC's senders: adding and
// removing them, creating offers and applying answers all happen under mu, so none of them
// overlaps another. While an offer is in flight, removals wait for its answer. Both matter to
// pion: applying an answer starts every sender the offer negotiated, and a RemoveTrack that
// runs at the same moment leaves a sender without a track for it to start ("Sender Track has
// been removed or replaced to nil"), which failed the answer and ended the participant.
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
	// removals are senders to take off the PC once the offer in flight is answered.
	removals []*webrtc.RTPSender
	onError  func(error)
}

const negotiateDebounce = 10 * time.Millisecond

func newNegotiator(side *pcSide, onError func(error)) *negotiator {
	return &negotiator{side: side, onError: onError}
}

// negotiate asks for a (re)offer soon.
func (n *negotiator) negotiate() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.negotiateLocked()
}

func (n *negotiator) negotiateLocked() {
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

// addTrack adds a send-only transceiver for track, with the codec preferences prefs (none:
// pion's defaults), and returns it with the number of offers made before it existed: the
// client knows the track once an offer after that one is answered (answeredAfter). The
// caller renegotiates.
func (n *negotiator) addTrack(track webrtc.TrackLocal, prefs []webrtc.RTPCodecParameters) (*webrtc.RTPTransceiver, uint32, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	tr, err := n.side.pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
	if err != nil {
		return nil, 0, fmt.Errorf("sfu: add subscriber track: %w", err)
	}
	if len(prefs) > 0 {
		_ = tr.SetCodecPreferences(prefs) // the DownTrack's codecs come from the same engine
	}
	return tr, n.offerID, nil
}

// removeSender takes sender off the subscriber PC and renegotiates, so the client sees the
// track end. While an offer is in flight the removal waits for its answer (see negotiator);
// the caller may close the sender's track at once, a bound but closed DownTrack sends
// nothing.
func (n *negotiator) removeSender(sender *webrtc.RTPSender) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed {
		return // the PC is closing, which stops every sender
	}
	if n.waitingAnswer {
		n.removals = append(n.removals, sender)
		n.again = true
		return
	}
	n.removeLocked(sender)
	n.negotiateLocked()
}

// removeLocked removes one sender. pion fails RemoveTrack only on a closed PC or a sender
// of another PC: neither leaves anything to clean up.
func (n *negotiator) removeLocked(sender *webrtc.RTPSender) {
	_ = n.side.pc.RemoveTrack(sender)
}

// applyRemovalsLocked removes the senders held back while an offer was in flight.
func (n *negotiator) applyRemovalsLocked() {
	for _, s := range n.removals {
		n.removeLocked(s)
	}
	n.removals = nil
}

// start allows offers (the client has its JoinResponse) and makes the first one.
func (n *negotiator) start() {
	n.mu.Lock()
	n.ready = true
	n.again = false
	n.mu.Unlock()
	n.negotiate()
}

// restart offers again at once with an ICE restart (the signal connection was resumed: an
// offer or answer in flight may have been lost with the old one).
func (n *negotiator) restart() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.closed || !n.ready {
		return
	}
	if err := n.restartLocked(); err != nil && n.onError != nil {
		go n.onError(err)
	}
}

func (n *negotiator) restartLocked() error {
	pc := n.side.pc
	if pc.ConnectionState() == webrtc.PeerConnectionStateClosed {
		return nil
	}
	if n.waitingAnswer {
		// pion cannot set a new local offer over the one in flight (have-local-offer) and
		// has no local rollback.
		prev := pc.CurrentRemoteDescription()
		if prev == nil {
			// The first offer was never answered, so ICE has nothing to restart: send the
			// same offer again and keep waiting for its answer; changes made meanwhile
			// (again, removals) follow it as usual.
			n.sendOfferLocked()
			return nil
		}
		// Return to stable by applying the client's last answer again: it changes nothing
		// that was negotiated, and the next offer carries every change since.
		if err := pc.SetRemoteDescription(*prev); err != nil {
			return fmt.Errorf("sfu: subscriber restart: restore the last answer: %w", err)
		}
		n.waitingAnswer = false
		n.applyRemovalsLocked()
	}
	n.again = false // the restart offer carries every change
	n.iceRestart = true
	return n.offerLocked()
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
	if errors.Is(err, webrtc.ErrConnectionClosed) {
		return nil // closed after the check above: the participant is leaving
	}
	if err != nil {
		return fmt.Errorf("sfu: subscriber offer: %w", err)
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		if errors.Is(err, webrtc.ErrConnectionClosed) {
			return nil
		}
		return fmt.Errorf("sfu: subscriber set local offer: %w", err)
	}
	n.iceRestart = false
	n.waitingAnswer = true
	n.offerID++
	n.sendOfferLocked()
	return nil
}

// sendOfferLocked sends the offer in flight (pion's local description) with its id.
func (n *negotiator) sendOfferLocked() {
	n.side.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Offer{Offer: &livekit.SessionDescription{
		Type: "offer", Sdp: n.side.pc.LocalDescription().SDP, Id: n.offerID,
	}}})
	n.side.descQueued()
}

// answer applies the client's answer to offer id (0: a client that does not echo ids),
// then the removals that waited for it, and sends a pending re-offer. An answer to an older
// offer (one abandoned by restart) is ignored: the client answers the newer one too.
func (n *negotiator) answer(sd webrtc.SessionDescription, id uint32) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if id != 0 && id < n.offerID {
		return nil
	}
	if !n.waitingAnswer {
		return errors.New("sfu: subscriber answer without an offer")
	}
	if id > n.offerID {
		return fmt.Errorf("sfu: subscriber answer to offer %d, the last offer is %d", id, n.offerID)
	}
	if err := n.side.pc.SetRemoteDescription(sd); err != nil {
		return fmt.Errorf("sfu: subscriber answer: %w", err)
	}
	n.waitingAnswer = false
	n.answeredID = n.offerID
	n.side.remoteDescriptionSet()
	if len(n.removals) > 0 {
		n.applyRemovalsLocked()
		n.again = true
	}
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

// close stops offers; senders still waiting for removal go with the PC.
func (n *negotiator) close() {
	n.mu.Lock()
	n.closed = true
	n.removals = nil
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
	}
	if side == nil { // unknown target, or SUBSCRIBER on the single-PC path
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
	p.preferPublishedCodecs(pc, sd.Sdp)
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
	if sd == nil || sd.Type != "answer" || p.subNeg == nil {
		return p.failNegotiation(errors.New("subscriber answer of the wrong type, or on the single-PC path"))
	}
	if err := p.subNeg.answer(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sd.Sdp}, sd.Id); err != nil {
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
