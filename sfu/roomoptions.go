package sfu

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
)

// RoomPreset is a named set of room options (LiveKit's room preset): CreateRoom's
// room_preset, or the roomPreset claim of the token whose holder starts the room, selects
// one. Zero fields keep the node's room defaults. Example: a "recordable" preset limited to
// Opus and H.264, so a recorded class never needs transcoding (docs/cluster.md).
type RoomPreset struct {
	EnabledCodecs   []string      `yaml:"enabled_codecs"`
	EmptyTimeout    time.Duration `yaml:"empty_timeout"`
	MaxParticipants int           `yaml:"max_participants"`
}

// ErrUnknownPreset is returned for a room preset the node does not define.
var ErrUnknownPreset = errors.New("sfu: unknown room preset")

// roomOptions are one room's settings, fixed when the room starts.
type roomOptions struct {
	emptyTimeout    time.Duration
	maxParticipants int
	codecs          []string // MIME types publishers may use; nil: all the SFU supports
	metadata        string
}

// roomOptionsFor builds a new room's options: the node's defaults, then the named preset,
// then explicit values (from CreateRoom or the token's room configuration).
func (s *Server) roomOptionsFor(preset string, emptyTimeout, maxParticipants uint32, metadata string) (roomOptions, error) {
	o := roomOptions{
		emptyTimeout: s.cfg.Room.EmptyTimeout, maxParticipants: s.cfg.Room.MaxParticipants,
		codecs: s.cfg.Room.EnabledCodecs, metadata: metadata,
	}
	if preset != "" {
		p, ok := s.cfg.Room.Presets[preset]
		if !ok {
			return o, fmt.Errorf("%w %q", ErrUnknownPreset, preset)
		}
		if len(p.EnabledCodecs) > 0 {
			o.codecs = p.EnabledCodecs
		}
		if p.EmptyTimeout > 0 {
			o.emptyTimeout = p.EmptyTimeout
		}
		if p.MaxParticipants > 0 {
			o.maxParticipants = p.MaxParticipants
		}
	}
	if emptyTimeout > 0 {
		o.emptyTimeout = time.Duration(emptyTimeout) * time.Second
	}
	if maxParticipants > 0 {
		o.maxParticipants = int(maxParticipants)
	}
	return o, nil
}

// roomOptionsFromGrants are the options a joining participant's token asks for, used only
// if that join starts the room (as LiveKit does).
func (s *Server) roomOptionsFromGrants(g *auth.ClaimGrants) (roomOptions, error) {
	var et, mp uint32
	var md string
	if rc := g.GetRoomConfiguration(); rc != nil {
		et, mp, md = rc.EmptyTimeout, rc.MaxParticipants, rc.Metadata
	}
	return s.roomOptionsFor(g.RoomPreset, et, mp, md)
}

// roomOptionsFromCreate are the options of a CreateRoom call.
func (s *Server) roomOptionsFromCreate(req *livekit.CreateRoomRequest) (roomOptions, error) {
	return s.roomOptionsFor(req.RoomPreset, req.EmptyTimeout, req.MaxParticipants, req.Metadata)
}

// allowsCodec reports whether publishers in the room may use mime.
func (o roomOptions) allowsCodec(mime string) bool {
	return len(o.codecs) == 0 || slices.ContainsFunc(o.codecs, func(c string) bool { return strings.EqualFold(c, mime) })
}

// validatePresets checks the configured presets name only codecs the SFU supports.
func validatePresets(presets map[string]RoomPreset) error {
	for name, p := range presets {
		if name == "" {
			return errors.New("room.presets: a preset has an empty name")
		}
		if p.EmptyTimeout < 0 || p.MaxParticipants < 0 {
			return fmt.Errorf("room.presets.%s: negative empty_timeout or max_participants", name)
		}
		for _, c := range p.EnabledCodecs {
			if !strings.Contains(c, "/") {
				return fmt.Errorf("room.presets.%s: codec %q is not a MIME type such as video/H264", name, c)
			}
		}
	}
	return nil
}
