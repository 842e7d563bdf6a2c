package media

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/controlplane/store"
)

// Whole-room moderation (docs/classes.md): lock, mute all, lower all hands. Each is for the
// class's teacher or an admin (403 otherwise, 404 for an unknown class) and is audited with
// the class as target.

// HandAttribute is the participant attribute that says a hand is raised: any non-empty
// value (the classroom sets the time it was raised, RFC 3339, so hands can be listed in
// order); absent or empty means lowered. HandTopic is the data-message topic clients also
// use for it; LowerHands sends {"raised": false} on it to everyone.
const (
	HandAttribute = "hand"
	HandTopic     = "hand"
)

// LockResult is the room's lock after SetLock.
type LockResult struct {
	Locked bool
}

// SetLock locks or unlocks the class room. While it is locked the join endpoint refuses
// students who are not already in the room; the teacher and admins still join, and nobody in
// the room is disconnected. Audited as class.locked or class.unlocked.
func (s *Service) SetLock(ctx context.Context, m Moderation, locked bool) (LockResult, error) {
	if _, err := s.moderatedClass(ctx, m); err != nil {
		return LockResult{}, err
	}
	action := "class.unlocked"
	if locked {
		action = "class.locked"
	}
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		if err := tx.SetClassLock(ctx, m.ClassID, locked, m.ActorID, s.Now()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: m.ActorID, Action: action, TargetType: "class",
			TargetID: m.ClassID})
	})
	if err != nil {
		return LockResult{}, fmt.Errorf("media: lock: %w", err)
	}
	return LockResult{Locked: locked}, nil
}

// MuteAllResult lists who and what MuteAll muted.
type MuteAllResult struct {
	Participants []string // identities with at least one microphone muted now
	Tracks       []string // track sids muted now
}

// MuteAll mutes the published audio of everyone in the room but the teacher (and hidden
// participants such as the recorder), through the SFU's RoomService. Tracks already muted
// are left alone; a room nobody is in mutes nothing. Participants may unmute themselves
// afterwards (as in any LiveKit room; the teacher can mute again). Audited as
// class.muted_all with the counts.
func (s *Service) MuteAll(ctx context.Context, m Moderation) (MuteAllResult, error) {
	c, err := s.moderatedClass(ctx, m)
	if err != nil {
		return MuteAllResult{}, err
	}
	out := MuteAllResult{Participants: []string{}, Tracks: []string{}}
	ps, err := s.participants(ctx, m.ClassID)
	if err != nil {
		return out, err
	}
	rs := s.roomService()
	for _, p := range ps {
		if p.GetIdentity() == c.TeacherID || p.GetPermission().GetHidden() {
			continue
		}
		muted := false
		for _, t := range p.GetTracks() {
			if t.GetType() != livekit.TrackType_AUDIO || t.GetMuted() {
				continue
			}
			_, err := rs.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: m.ClassID, Identity: p.GetIdentity(),
				TrackSid: t.GetSid(), Muted: true})
			if gone(err) {
				continue // left, or unpublished, meanwhile
			}
			if err != nil {
				return out, roomServiceError("mute track", err)
			}
			out.Tracks = append(out.Tracks, t.GetSid())
			muted = true
		}
		if muted {
			out.Participants = append(out.Participants, p.GetIdentity())
		}
	}
	err = s.Store.AppendAudit(ctx, store.AuditEntry{ActorID: m.ActorID, Action: "class.muted_all", TargetType: "class",
		TargetID: m.ClassID, Details: map[string]any{"participants": len(out.Participants), "tracks": len(out.Tracks)}})
	if err != nil {
		return out, fmt.Errorf("media: audit mute all: %w", err)
	}
	return out, nil
}

// LowerHands lowers every raised hand in the room: it clears HandAttribute of each
// participant who has it set (through the RoomService's UpdateParticipant, so every client
// and SDK sees the attribute change), then sends {"raised": false} on HandTopic to everyone,
// for clients that track hands by data messages. It returns the identities whose attribute
// was cleared. Audited as class.hands_lowered.
func (s *Service) LowerHands(ctx context.Context, m Moderation) ([]string, error) {
	if _, err := s.moderatedClass(ctx, m); err != nil {
		return nil, err
	}
	ps, err := s.participants(ctx, m.ClassID)
	if err != nil {
		return nil, err
	}
	rs := s.roomService()
	lowered := []string{}
	for _, p := range ps {
		if p.GetAttributes()[HandAttribute] == "" {
			continue
		}
		_, err := rs.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: m.ClassID, Identity: p.GetIdentity(),
			Attributes: map[string]string{HandAttribute: ""}})
		if gone(err) {
			continue
		}
		if err != nil {
			return lowered, roomServiceError("lower hand", err)
		}
		lowered = append(lowered, p.GetIdentity())
	}
	if len(ps) > 0 {
		payload, _ := json.Marshal(map[string]any{"raised": false, "all": true})
		topic := HandTopic
		_, err := rs.SendData(ctx, &livekit.SendDataRequest{Room: m.ClassID, Data: payload, Kind: livekit.DataPacket_RELIABLE, Topic: &topic})
		if err != nil && !gone(err) {
			return lowered, roomServiceError("send lower hands", err)
		}
	}
	err = s.Store.AppendAudit(ctx, store.AuditEntry{ActorID: m.ActorID, Action: "class.hands_lowered", TargetType: "class",
		TargetID: m.ClassID, Details: map[string]any{"lowered": len(lowered)}})
	if err != nil {
		return lowered, fmt.Errorf("media: audit lower hands: %w", err)
	}
	return lowered, nil
}

// participants lists who is in the class room; a room that does not exist has nobody.
func (s *Service) participants(ctx context.Context, classID string) ([]*livekit.ParticipantInfo, error) {
	res, err := s.roomService().ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: classID})
	if gone(err) {
		return nil, nil
	}
	if err != nil {
		return nil, roomServiceError("list participants", err)
	}
	return res.GetParticipants(), nil
}

// gone reports whether err is the SFU's "not found" (room, participant or track).
func gone(err error) bool {
	var te twirp.Error
	return err != nil && errors.As(err, &te) && te.Code() == twirp.NotFound
}
