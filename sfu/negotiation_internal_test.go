package sfu

import (
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
)

// negotiatorPair is a negotiator on a real pion PeerConnection with a real client PC to
// answer its offers; no network is needed to exchange descriptions.
type negotiatorPair struct {
	t      *testing.T
	n      *negotiator
	server *webrtc.PeerConnection
	client *webrtc.PeerConnection
	offers chan *livekit.SessionDescription
	errs   chan error
}

func newNegotiatorPair(t *testing.T) *negotiatorPair {
	t.Helper()
	server, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	client, err := webrtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	if _, err := server.CreateDataChannel("_reliable", nil); err != nil {
		t.Fatal(err)
	}
	np := &negotiatorPair{t: t, server: server, client: client,
		offers: make(chan *livekit.SessionDescription, 16), errs: make(chan error, 16)}
	side := newPCSide(server, livekit.SignalTarget_SUBSCRIBER, func(r *livekit.SignalResponse) {
		if o := r.GetOffer(); o != nil {
			np.offers <- o
		}
	})
	np.n = newNegotiator(side, func(err error) { np.errs <- err })
	t.Cleanup(np.n.close)
	return np
}

func (np *negotiatorPair) offer() *livekit.SessionDescription {
	np.t.Helper()
	select {
	case o := <-np.offers:
		return o
	case err := <-np.errs:
		np.t.Fatalf("negotiation failed: %v", err)
	case <-time.After(5 * time.Second):
		np.t.Fatal("no offer")
	}
	return nil
}

func (np *negotiatorPair) noOffer() {
	np.t.Helper()
	select {
	case o := <-np.offers:
		np.t.Fatalf("unexpected offer %d", o.Id)
	case err := <-np.errs:
		np.t.Fatalf("negotiation failed: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
}

// answerFor applies o on the client and returns its answer.
func (np *negotiatorPair) answerFor(o *livekit.SessionDescription) webrtc.SessionDescription {
	np.t.Helper()
	if err := np.client.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: o.Sdp}); err != nil {
		np.t.Fatalf("client: set offer %d: %v", o.Id, err)
	}
	a, err := np.client.CreateAnswer(nil)
	if err != nil {
		np.t.Fatal(err)
	}
	if err := np.client.SetLocalDescription(a); err != nil {
		np.t.Fatal(err)
	}
	return *np.client.LocalDescription()
}

// withoutCandidates drops the candidate lines pion adds to its local description as they
// are gathered.
func withoutCandidates(sdp string) string {
	var keep []string
	for _, l := range strings.Split(sdp, "\n") {
		if !strings.HasPrefix(l, "a=candidate:") && !strings.HasPrefix(l, "a=end-of-candidates") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

func (np *negotiatorPair) addVideo() *webrtc.RTPTransceiver {
	np.t.Helper()
	track, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "TR_v", "PA_x|TR_v")
	if err != nil {
		np.t.Fatal(err)
	}
	tr, _, err := np.n.addTrack(track, nil)
	if err != nil {
		np.t.Fatal(err)
	}
	np.n.negotiate()
	return tr
}

// TestNegotiatorRestartBeforeFirstAnswer: a resume before the first offer was answered
// resends that offer (same id and SDP) instead of failing on have-local-offer; a change made
// meanwhile is offered after its answer.
func TestNegotiatorRestartBeforeFirstAnswer(t *testing.T) {
	np := newNegotiatorPair(t)
	np.n.start()
	first := np.offer()
	np.addVideo() // waits for the answer
	np.n.restart()
	again := np.offer()
	if again.Id != first.Id || withoutCandidates(again.Sdp) != withoutCandidates(first.Sdp) {
		t.Errorf("restart before any answer sent offer %d:\n%s\nwant offer %d again:\n%s", again.Id, again.Sdp, first.Id, first.Sdp)
	}
	if err := np.n.answer(np.answerFor(again), again.Id); err != nil {
		t.Fatalf("answer(%d) = %v", again.Id, err)
	}
	next := np.offer()
	if next.Id != first.Id+1 {
		t.Errorf("offer after the answer has id %d, want %d", next.Id, first.Id+1)
	}
	if err := np.n.answer(np.answerFor(next), next.Id); err != nil {
		t.Fatalf("answer(%d) = %v", next.Id, err)
	}
	np.noOffer()
}

// TestNegotiatorAnswerIDs: after a restart abandoned an offer, an answer to it is ignored;
// the answer to the restart offer is applied; an answer naming an offer never sent is an
// error.
func TestNegotiatorAnswerIDs(t *testing.T) {
	np := newNegotiatorPair(t)
	np.n.start()
	first := np.offer()
	if err := np.n.answer(np.answerFor(first), first.Id); err != nil {
		t.Fatal(err)
	}
	tr := np.addVideo()
	abandoned := np.offer()
	lateAnswer := np.answerFor(abandoned)
	np.n.restart()
	restart := np.offer()
	if restart.Id <= abandoned.Id {
		t.Fatalf("restart offer id %d, want more than %d", restart.Id, abandoned.Id)
	}
	if err := np.n.answer(lateAnswer, abandoned.Id); err != nil {
		t.Errorf("answer to the abandoned offer %d = %v, want it ignored", abandoned.Id, err)
	}
	if err := np.n.answer(lateAnswer, restart.Id+5); err == nil {
		t.Errorf("answer naming offer %d, never sent, was accepted", restart.Id+5)
	}
	if err := np.n.answer(np.answerFor(restart), restart.Id); err != nil {
		t.Fatalf("answer(%d) = %v", restart.Id, err)
	}
	if np.server.SignalingState() != webrtc.SignalingStateStable {
		t.Errorf("server signaling state %s, want stable", np.server.SignalingState())
	}
	if tr.Sender() == nil || tr.Mid() == "" {
		t.Errorf("the video added before the restart was not negotiated (mid %q)", tr.Mid())
	}
	np.noOffer()
}
