package sfu

import (
	"net/http"

	"github.com/gorilla/websocket"
)

// DropSignalForTest breaks a participant's signal connection as a network failure would
// (its PeerConnections stay up), so tests can exercise resume.
func DropSignalForTest(s *Server, room, identity string) error {
	p, err := s.findParticipant(room, identity)
	if err != nil {
		return err
	}
	p.signal().Close(websocket.CloseAbnormalClosure, "test drop")
	return nil
}

// HandlerForTest is the node's public HTTP handler, for in-process fuzzing.
func HandlerForTest(s *Server) http.Handler { return s.httpSrv.Handler }
