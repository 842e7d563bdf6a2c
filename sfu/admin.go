package sfu

import (
	"fmt"

	"github.com/livekit/protocol/livekit"
)

// ErrNotFound is returned by the admin methods for an unknown room, participant or track.
var ErrNotFound = errNotFound

// The admin methods act on this node's rooms on behalf of the operator or the control plane
// (LiveKit's RoomService equivalents). They are safe for concurrent use.

// MuteTrack mutes or unmutes a published (or announced) track from the server side: the
// publisher is sent a mute request, so its SDK shows the new state, and the others see it in
// a participant update.
func (s *Server) MuteTrack(room, identity, trackSID string, muted bool) error {
	p, err := s.findParticipant(room, identity)
	if err != nil {
		return err
	}
	if !p.setMuted(trackSID, muted) {
		return fmt.Errorf("%w: track %q of %q", ErrNotFound, trackSID, identity)
	}
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Mute{Mute: &livekit.MuteTrackRequest{Sid: trackSID, Muted: muted}}})
	return nil
}

// UnpublishTrack removes a published track on the server's initiative: subscribers lose
// it, and the publisher gets track_unpublished so its SDK stops sending it.
func (s *Server) UnpublishTrack(room, identity, trackSID string) error {
	p, err := s.findParticipant(room, identity)
	if err != nil {
		return err
	}
	if !p.unpublish(trackSID) {
		return fmt.Errorf("%w: track %q of %q", ErrNotFound, trackSID, identity)
	}
	return nil
}

// RemoveParticipant disconnects a participant with reason PARTICIPANT_REMOVED.
func (s *Server) RemoveParticipant(room, identity string) error {
	p, err := s.findParticipant(room, identity)
	if err != nil {
		return err
	}
	p.close(closeParams{reason: livekit.DisconnectReason_PARTICIPANT_REMOVED, sendLeave: true, action: livekit.LeaveRequest_DISCONNECT})
	return nil
}

// CloseRoom disconnects everyone in room (reason ROOM_DELETED) and closes it.
func (s *Server) CloseRoom(room string) error {
	r := s.rooms.get(room)
	if r == nil {
		return fmt.Errorf("%w: room %q", ErrNotFound, room)
	}
	r.close(livekit.DisconnectReason_ROOM_DELETED)
	return nil
}

// RoomInfo describes an open room.
type RoomInfo struct {
	Name, SID    string
	Participants []string // identities, hidden ones included
}

// Rooms lists the rooms open on this node.
func (s *Server) Rooms() []RoomInfo {
	var out []RoomInfo
	for _, r := range s.rooms.all() {
		info := RoomInfo{Name: r.name, SID: r.sid}
		for _, p := range r.snapshot() {
			info.Participants = append(info.Participants, p.identity)
		}
		out = append(out, info)
	}
	return out
}

func (s *Server) findParticipant(room, identity string) (*participant, error) {
	r := s.rooms.get(room)
	if r == nil {
		return nil, fmt.Errorf("%w: room %q", ErrNotFound, room)
	}
	p := r.byIdentity(identity)
	if p == nil {
		return nil, fmt.Errorf("%w: participant %q in room %q", ErrNotFound, identity, room)
	}
	return p, nil
}
