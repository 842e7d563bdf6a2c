package sfu

import (
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/relaywire"
)

// RoomService actions on participants connected to relay nodes (docs/relay.md, "Room
// state"): the RoomService is served by the origin, which sends the action to the node the
// participant is on; that node applies it as for its own participants, and the change
// comes back to everyone as a participant update.

// remoteAdmin (origin) sends action c on identity to the relay node it is on and returns
// the participant as last known. ok is false when identity is on no relay node of the
// room; err when the node could not be reached.
func (sp *span) remoteAdmin(identity string, c *relaywire.Control) (info *livekit.ParticipantInfo, ok bool, err error) {
	if sp == nil || sp.svc == nil || sp.origin != "" {
		return nil, false, nil
	}
	sp.mu.Lock()
	rp := sp.remote[identity]
	if rp == nil {
		sp.mu.Unlock()
		return nil, false, nil
	}
	node := rp.node
	info = proto.Clone(rp.info).(*livekit.ParticipantInfo)
	sp.mu.Unlock()
	c.Kind, c.Room, c.Identity = relaywire.KindAdmin, sp.r.name, identity
	if err := sp.svc.send(node, c); err != nil {
		return info, true, fmt.Errorf("relay: %s action for %s on %s: %w", c.Action, identity, node, err)
	}
	return info, true, nil
}

// remoteInfo (origin) is a participant on a relay node, as last known.
func (sp *span) remoteInfo(identity string) *livekit.ParticipantInfo {
	if sp == nil {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if rp := sp.remote[identity]; rp != nil {
		return proto.Clone(rp.info).(*livekit.ParticipantInfo)
	}
	return nil
}

// applyAdmin (relay) carries out the origin's RoomService action on a participant here.
func (sp *span) applyAdmin(from string, c *relaywire.Control) {
	if from != sp.origin {
		return
	}
	s := sp.svc.s
	var err error
	switch c.Action {
	case relaywire.ActionRemove:
		err = s.RemoveParticipant(sp.r.name, c.Identity)
	case relaywire.ActionMute:
		err = s.MuteTrack(sp.r.name, c.Identity, c.Track, c.Muted)
	case relaywire.ActionUpdate:
		req := &livekit.UpdateParticipantRequest{}
		if err = proto.Unmarshal(c.Update, req); err == nil {
			_, err = s.updateParticipant(sp.r.name, c.Identity, req.Name, req.Metadata, req.Attributes)
		}
	default:
		err = fmt.Errorf("unknown action %q", c.Action)
	}
	if err != nil {
		sp.r.log.Warn("relay admin action failed", "action", c.Action, "identity", c.Identity, "err", err)
	}
}

// errInvalidUpdate: a participant update over the limits (the caller's mistake).
var errInvalidUpdate = errors.New("sfu: invalid participant update")

// updateParticipant changes a local participant's name, metadata and attributes (within
// the limits) and tells it; the room learns it through the participant's update.
func (s *Server) updateParticipant(room, identity, name, metadata string, attrs map[string]string) (*livekit.ParticipantInfo, error) {
	p, err := s.findParticipant(room, identity)
	if err != nil {
		return nil, err
	}
	if err := p.applyUpdate(name, metadata, attrs); err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalidUpdate, err)
	}
	p.changed()
	info := p.info()
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{
		Participants: []*livekit.ParticipantInfo{proto.Clone(info).(*livekit.ParticipantInfo)},
	}}})
	return info, nil
}

// relayAdmin (origin) sends action c for identity in room to its relay node.
func (s *Server) relayAdmin(room, identity string, c *relaywire.Control) (*livekit.ParticipantInfo, bool, error) {
	r := s.rooms.get(room)
	if r == nil {
		return nil, false, nil
	}
	return r.span.remoteAdmin(identity, c)
}
