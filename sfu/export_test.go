package sfu

import (
	"net/http"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
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

// EndTracksWhileClosingForTest replays one ordering of a client's goodbye: p starts closing
// (its Leave was read), then every incoming stream of its published tracks ends (the DTLS
// close arrived), then cleanup runs. Each track must still be retired exactly once.
func EndTracksWhileClosingForTest(s *Server, room, identity string) error {
	p, err := s.findParticipant(room, identity)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.closing = true
	p.mu.Unlock()
	for _, t := range p.publishedTracks() {
		t.mu.Lock()
		t.readers = 1 // the last reader ends now
		t.mu.Unlock()
		p.endLayer(t)
	}
	p.close(closeParams{reason: livekit.DisconnectReason_CLIENT_INITIATED})
	return nil
}
