package sfu

import (
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/pkg/sigconn"
)

// Resume: when a participant's signal connection drops but its PeerConnections live on,
// LiveKit SDKs reconnect the WebSocket with reconnect=1&sid=PA_… and expect the session to
// continue (same sid, same tracks). The participant waits Signal.ResumeWindow for that; a
// resumed connection gets a ReconnectResponse, an ICE-restarting subscriber offer and a fresh
// view of the room. The handler goroutine serving the newest connection owns the cleanup.

func (p *participant) onPong() { p.lastSeen.Store(p.s.now()) }

// signal is the current signal connection.
func (p *participant) signal() *sigconn.Conn {
	p.connMu.Lock()
	defer p.connMu.Unlock()
	return p.conn
}

// serve reads requests from c and, when c ends, either hands the participant over to a
// resumed connection or closes and cleans it up. Called on c's handler goroutine.
func (p *participant) serve(c *sigconn.Conn) {
	err := p.readLoop(c)
	if p.ctx.Err() == nil {
		p.log.Info("signal connection lost", "err", err)
		if p.awaitResume(c) {
			return // the resumed connection's handler owns the participant now
		}
	}
	p.cleanup(true)
}

// awaitResume waits up to ResumeWindow for c to be replaced. It reports whether it was.
func (p *participant) awaitResume(c *sigconn.Conn) bool {
	p.mu.Lock()
	resumable := p.connectedOnce && !p.closing
	p.mu.Unlock()
	p.connMu.Lock()
	if p.conn != c {
		p.connMu.Unlock()
		return true
	}
	swapped := p.swapped
	if !resumable || p.s.cfg.Signal.ResumeWindow <= 0 {
		p.noResume = true
		p.connMu.Unlock()
		p.close(closeParams{reason: livekit.DisconnectReason_SIGNAL_CLOSE})
		return false
	}
	p.connMu.Unlock()

	t := time.NewTimer(p.s.cfg.Signal.ResumeWindow)
	defer t.Stop()
	select {
	case <-swapped:
		return true
	case <-t.C:
	case <-p.ctx.Done():
	}
	p.connMu.Lock()
	if p.conn != c {
		p.connMu.Unlock()
		return true
	}
	p.noResume = true
	p.connMu.Unlock()
	p.close(closeParams{reason: livekit.DisconnectReason_SIGNAL_CLOSE})
	return false
}

// resumable finds the participant a reconnect=1 request names, if it can still be resumed.
func (s *Server) resumable(room, identity, sid string) *participant {
	r := s.rooms.get(room)
	if r == nil || sid == "" {
		return nil
	}
	p := r.byIdentity(identity)
	if p == nil || p.sid != sid {
		return nil
	}
	return p
}

// resume makes c p's signal connection: it sends the ReconnectResponse on c before anything
// queued can reach it, swaps c in, and restarts ICE on the subscriber PC (an offer lost with
// the old connection would otherwise stall negotiation). It reports false if p cannot be
// resumed any more.
func (p *participant) resume(c *sigconn.Conn) bool {
	p.mu.Lock()
	ok := p.connectedOnce && !p.closing
	p.mu.Unlock()
	if !ok {
		return false
	}
	err := c.Write(&livekit.SignalResponse{Message: &livekit.SignalResponse_Reconnect{Reconnect: &livekit.ReconnectResponse{
		IceServers: iceServers(p.s.cfg.TURN, p.identity, p.s.now()),
	}}})
	if err != nil {
		return false
	}
	p.connMu.Lock()
	if p.noResume || p.ctx.Err() != nil {
		p.connMu.Unlock()
		return false
	}
	old := p.conn
	p.conn = c
	close(p.swapped)
	p.swapped = make(chan struct{})
	c.OnPong(p.onPong)
	p.connMu.Unlock()
	old.Close(websocket.CloseGoingAway, "resumed on another connection")
	p.lastSeen.Store(p.s.now())
	p.log.Info("participant resumed")

	// Whatever changed while the signal was down was dropped: re-send the room as it is.
	var infos []*livekit.ParticipantInfo
	for _, o := range p.room.others(p) {
		if !o.hidden() {
			infos = append(infos, o.info())
		}
	}
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{Participants: infos}}})
	if p.single != nil {
		p.single.resumed()
		return true
	}
	p.subNeg.restart()
	return true
}
