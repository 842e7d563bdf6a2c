package media

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// MuteKind says which of a participant's published tracks a mute covers.
type MuteKind string

// The kinds a teacher may mute. Video covers cameras and screen shares alike.
const (
	MuteAudio MuteKind = "audio"
	MuteVideo MuteKind = "video"
	MuteAll   MuteKind = "all"
)

// Moderation names who moderates whom: the caller (ActorID with ActorRole) and the
// participant (UserID, the LiveKit identity) in the room of ClassID.
type Moderation struct {
	ActorID   string
	ActorRole string
	ClassID   string
	UserID    string
}

// MuteParticipant mutes the participant's published tracks of the given kind through the
// SFU's LiveKit RoomService and returns the SIDs of the tracks it muted (possibly none, when
// the participant publishes nothing of that kind). Only the class's teacher or an admin may
// call it (403; 404 for an unknown class); a participant who is not in the room is a 404.
// Every successful call is audited as class.participant_muted.
func (s *Service) MuteParticipant(ctx context.Context, m Moderation, kind MuteKind) ([]string, error) {
	switch kind {
	case MuteAudio, MuteVideo, MuteAll:
	default:
		return nil, problem.New(http.StatusUnprocessableEntity, problem.CodeValidation, "kind must be audio, video or all")
	}
	if err := s.mayModerate(ctx, m); err != nil {
		return nil, err
	}
	rs := s.roomService()
	p, err := rs.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: m.ClassID, Identity: m.UserID})
	if err != nil {
		return nil, roomServiceError("get participant", err)
	}
	muted := []string{}
	for _, t := range p.GetTracks() {
		if !kindCovers(kind, t.GetType()) {
			continue
		}
		_, err := rs.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: m.ClassID, Identity: m.UserID, TrackSid: t.GetSid(), Muted: true})
		if err != nil {
			return muted, roomServiceError("mute track", err)
		}
		muted = append(muted, t.GetSid())
	}
	err = s.Store.AppendAudit(ctx, store.AuditEntry{ActorID: m.ActorID, Action: "class.participant_muted", TargetType: "user",
		TargetID: m.UserID, Details: map[string]any{"class_id": m.ClassID, "kind": string(kind), "tracks": muted}})
	if err != nil {
		return muted, fmt.Errorf("media: audit mute: %w", err)
	}
	return muted, nil
}

// RemoveParticipant disconnects the participant from the class room through the SFU's
// LiveKit RoomService. It does not revoke the participant's booking: a removed student who
// asks for a new token may come back (the teacher can remove them again). Authorization and
// errors are as for MuteParticipant; it is audited as class.participant_removed.
func (s *Service) RemoveParticipant(ctx context.Context, m Moderation) error {
	if err := s.mayModerate(ctx, m); err != nil {
		return err
	}
	_, err := s.roomService().RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: m.ClassID, Identity: m.UserID})
	if err != nil {
		return roomServiceError("remove participant", err)
	}
	err = s.Store.AppendAudit(ctx, store.AuditEntry{ActorID: m.ActorID, Action: "class.participant_removed", TargetType: "user",
		TargetID: m.UserID, Details: map[string]any{"class_id": m.ClassID}})
	if err != nil {
		return fmt.Errorf("media: audit remove: %w", err)
	}
	return nil
}

// EndAccess disconnects userID from the class room because their right to be there ended
// (a cancelled booking). Not being in the room is success. Their join token expires within
// Config.TokenTTL; the SFU stops refreshing it once they are gone.
func (s *Service) EndAccess(ctx context.Context, classID, userID string) error {
	_, err := s.roomService().RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: classID, Identity: userID})
	var te twirp.Error
	if err == nil || errors.As(err, &te) && te.Code() == twirp.NotFound {
		return nil
	}
	return fmt.Errorf("media: end access of %s to %s: %w", userID, classID, err)
}

// CloseRoom ends a class's room (a cancelled class), disconnecting everyone. A room that
// does not exist is success.
func (s *Service) CloseRoom(ctx context.Context, classID string) error {
	_, err := s.roomService().DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: classID})
	var te twirp.Error
	if err == nil || errors.As(err, &te) && te.Code() == twirp.NotFound {
		return nil
	}
	return fmt.Errorf("media: close room %s: %w", classID, err)
}

// mayModerate allows the class's own teacher and admins. Another teacher's class is a 403
// like any other refusal, so the answer reveals nothing but the class's existence, which the
// public catalog shows anyway.
func (s *Service) mayModerate(ctx context.Context, m Moderation) error {
	c, err := s.Store.ClassByID(ctx, m.ClassID)
	if errors.Is(err, store.ErrNotFound) {
		return problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	}
	if err != nil {
		return fmt.Errorf("media: moderation: %w", err)
	}
	if c.TeacherID != m.ActorID && m.ActorRole != "admin" {
		return problem.New(http.StatusForbidden, problem.CodeForbidden, "only the class's teacher may moderate its room")
	}
	return nil
}

// roomService returns a client for the SFU's RoomService. It is built per call: it holds no
// connection of its own (requests go through an http.Client) and signs a short-lived admin
// token for each request.
func (s *Service) roomService() *lksdk.RoomServiceClient {
	return lksdk.NewRoomServiceClient(HTTPURL(s.cfg.URL), s.cfg.APIKey, s.cfg.APISecret)
}

// HTTPURL turns the SFU's public ws(s):// URL into the http(s):// URL its APIs answer on;
// any other URL is returned unchanged.
func HTTPURL(u string) string {
	switch {
	case strings.HasPrefix(u, "ws://"):
		return "http://" + strings.TrimPrefix(u, "ws://")
	case strings.HasPrefix(u, "wss://"):
		return "https://" + strings.TrimPrefix(u, "wss://")
	}
	return u
}

func kindCovers(k MuteKind, t livekit.TrackType) bool {
	switch k {
	case MuteAudio:
		return t == livekit.TrackType_AUDIO
	case MuteVideo:
		return t == livekit.TrackType_VIDEO
	}
	return true
}

// roomServiceError maps the SFU's Twirp errors: an unknown room or participant is our 404
// (the participant is not in the room); anything else is an internal error (the media plane failed us).
func roomServiceError(op string, err error) error {
	var te twirp.Error
	if errors.As(err, &te) && te.Code() == twirp.NotFound {
		return problem.New(http.StatusNotFound, problem.CodeNotFound, "the participant is not in the class room")
	}
	return fmt.Errorf("media: %s: %w", op, err)
}
