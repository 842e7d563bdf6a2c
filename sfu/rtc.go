package sfu

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/sigconn"
)

// authorize checks a /rtc or /rtc/validate request and returns the HTTP status to answer
// with on failure: 401 for token problems, 400 for malformed parameters, 503 while draining,
// 403 for a full room.
func (s *Server) authorize(r *http.Request) (*auth.ClaimGrants, string, access.JoinParams, int, error) {
	grants, err := access.Verify(access.TokenFromRequest(r), s.keys)
	if err != nil {
		return nil, "", access.JoinParams{}, http.StatusUnauthorized, err
	}
	room, err := access.CheckJoin(grants)
	if err != nil {
		return nil, "", access.JoinParams{}, http.StatusUnauthorized, err
	}
	join, err := access.ParseJoinParams(r)
	if err != nil {
		return nil, "", join, http.StatusBadRequest, err
	}
	if s.draining.Load() && s.rooms.get(room) == nil {
		// A draining node keeps its running rooms (they may still admit participants) but
		// starts none.
		return nil, "", join, http.StatusServiceUnavailable, ErrDraining
	}
	if rm := s.rooms.get(room); rm != nil && rm.full(grants.Identity) {
		return nil, "", join, http.StatusForbidden, ErrRoomFull
	}
	return grants, room, join, 0, nil
}

// handleValidate answers what /rtc would: 200 "success", or the error and status.
func (s *Server) handleValidate(w http.ResponseWriter, r *http.Request) {
	if _, _, _, status, err := s.authorize(r); err != nil {
		s.metrics.signalErrors.WithLabelValues(fmt.Sprintf("validate_%d", status)).Inc()
		http.Error(w, err.Error(), status)
		return
	}
	fmt.Fprint(w, "success")
}

// handleRTC is the signal WebSocket: authorise, upgrade, join, then serve the participant
// on this goroutine until it leaves.
func (s *Server) handleRTC(w http.ResponseWriter, r *http.Request) {
	accepted := time.Now()
	grants, roomName, join, status, err := s.authorize(r)
	if err != nil {
		s.metrics.signalErrors.WithLabelValues(fmt.Sprintf("join_%d", status)).Inc()
		s.log.Info("join refused", "status", status, "err", err)
		http.Error(w, err.Error(), status)
		return
	}
	conn, err := sigconn.Upgrade(w, r, sigconn.Options{MaxMessageBytes: s.cfg.Signal.MaxMessageBytes})
	if err != nil {
		s.log.Info("websocket upgrade failed", "err", err)
		return
	}
	if join.Reconnect {
		if p := s.resumable(roomName, grants.Identity, join.ParticipantSID); p != nil && p.resume(conn) {
			p.serve(conn)
			return
		}
		// Nothing to resume (unknown sid, participant gone or resume window passed): ask
		// for a full reconnect instead.
		s.refuse(conn, livekit.DisconnectReason_STATE_MISMATCH, livekit.LeaveRequest_RECONNECT)
		return
	}

	var p, replaced *participant
	for attempt := 0; attempt < 2; attempt++ {
		var rm *room
		var opts roomOptions
		if opts, err = s.roomOptionsFromGrants(grants); err != nil {
			break
		}
		if origin := relayOrigin(r); origin != "" && origin != s.cfg.NodeID {
			// The room's origin placed this participant here: serve it as a relay node.
			rm, err = s.rooms.getOrCreateRelay(roomName, opts, origin)
		} else {
			rm, err = s.rooms.getOrCreate(roomName, opts)
		}
		if err != nil {
			break
		}
		if p, err = newParticipant(participantParams{server: s, room: rm, grants: grants, join: join, conn: conn, accepted: accepted}); err != nil {
			break
		}
		replaced, err = rm.join(p)
		if err == nil || !errors.Is(err, ErrRoomClosed) {
			break
		}
		p.cleanup(false) // the room closed between lookup and join: try a fresh one
		p = nil
	}
	if err != nil {
		s.log.Info("join failed", "room", roomName, "err", err)
		if p != nil {
			p.cleanup(false)
		}
		s.refuse(conn, livekit.DisconnectReason_JOIN_FAILURE, livekit.LeaveRequest_DISCONNECT)
		return
	}
	if replaced != nil {
		replaced.close(closeParams{reason: livekit.DisconnectReason_DUPLICATE_IDENTITY, sendLeave: true, action: livekit.LeaveRequest_DISCONNECT})
		replaced.wait()
	}
	p.log.Info("participant joined", "sdk", join.SDK, "protocol", join.Protocol, "auto_subscribe", join.AutoSubscribe)
	p.start()
	p.serve(conn)
}

// refuse tells a just-upgraded client to leave, then closes the socket.
func (s *Server) refuse(conn *sigconn.Conn, reason livekit.DisconnectReason, action livekit.LeaveRequest_Action) {
	_ = conn.Write(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
		Reason: reason, Action: action, CanReconnect: action != livekit.LeaveRequest_DISCONNECT,
	}}})
	conn.Close(websocket.CloseNormalClosure, reason.String())
}

// full reports whether a participant with identity would exceed MaxParticipants (a
// returning identity replaces itself, so it always fits).
func (r *room) full(identity string) bool {
	max := r.opts.maxParticipants
	r.mu.Lock()
	defer r.mu.Unlock()
	_, present := r.participants[identity]
	return max > 0 && !present && len(r.participants) >= max
}
