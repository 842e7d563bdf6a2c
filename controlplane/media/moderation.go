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

// RemoveInput is a removal: Ban also bans the participant from this class for good (the
// join endpoint refuses them), with an optional Reason kept in the ban and the audit log.
type RemoveInput struct {
	Ban    bool
	Reason string
}

// RemoveResult says what a removal did: Removed is false when the participant was not in
// the room (only possible with a ban, which holds anyway).
type RemoveResult struct {
	Removed bool
	Banned  bool
}

// RemoveParticipant disconnects the participant from the class room through the SFU's
// LiveKit RoomService. Without a ban it does not revoke the booking: a removed student who
// asks for a new token may come back, and one who is not in the room is a 404. With a ban
// the ban is stored first (so a quick rejoin is already refused), then the participant is
// disconnected if they are in the room. The class's teacher cannot be banned (422).
// Authorization is as for MuteParticipant; audited as class.participant_removed, or
// class.participant_banned with a ban.
func (s *Service) RemoveParticipant(ctx context.Context, m Moderation, in RemoveInput) (RemoveResult, error) {
	c, err := s.moderatedClass(ctx, m)
	if err != nil {
		return RemoveResult{}, err
	}
	reason := strings.TrimSpace(in.Reason)
	if len(reason) > 500 {
		return RemoveResult{}, problem.Validation(map[string]string{"reason": "must be at most 500 characters"})
	}
	var res RemoveResult
	if in.Ban {
		if m.UserID == c.TeacherID {
			return res, problem.Validation(map[string]string{"ban": "the class's teacher cannot be banned from it"})
		}
		if _, err := s.Store.UserByID(ctx, m.UserID); errors.Is(err, store.ErrNotFound) {
			return res, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such user")
		} else if err != nil {
			return res, fmt.Errorf("media: ban: %w", err)
		}
		if _, err := s.Store.BanFromClass(ctx, store.ClassBan{ClassID: m.ClassID, UserID: m.UserID, BannedBy: m.ActorID,
			Reason: reason, CreatedAt: s.Now()}); err != nil {
			return res, fmt.Errorf("media: ban: %w", err)
		}
		res.Banned = true
	}
	_, err = s.roomService().RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: m.ClassID, Identity: m.UserID})
	var te twirp.Error
	switch {
	case err == nil:
		res.Removed = true
	case in.Ban && errors.As(err, &te) && te.Code() == twirp.NotFound:
		// Not in the room: the ban holds all the same.
	default:
		if res.Banned {
			// The ban is stored; say so in the audit log before reporting the failure.
			s.audit(ctx, m, "class.participant_banned", map[string]any{"class_id": m.ClassID, "reason": reason, "removed": false})
		}
		return res, roomServiceError("remove participant", err)
	}
	action, details := "class.participant_removed", map[string]any{"class_id": m.ClassID}
	if in.Ban {
		action, details = "class.participant_banned", map[string]any{"class_id": m.ClassID, "reason": reason, "removed": res.Removed}
	}
	if err := s.Store.AppendAudit(ctx, store.AuditEntry{ActorID: m.ActorID, Action: action, TargetType: "user",
		TargetID: m.UserID, Details: details}); err != nil {
		return res, fmt.Errorf("media: audit remove: %w", err)
	}
	return res, nil
}

// audit appends an entry, logging (not returning) a failure: used where the action itself
// already happened and its own error is what the caller must see.
func (s *Service) audit(ctx context.Context, m Moderation, action string, details map[string]any) {
	if err := s.Store.AppendAudit(ctx, store.AuditEntry{ActorID: m.ActorID, Action: action, TargetType: "user",
		TargetID: m.UserID, Details: details}); err != nil {
		s.Log.Error("moderation audit failed", "action", action, "class_id", m.ClassID, "err", err)
	}
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
	_, err := s.moderatedClass(ctx, m)
	return err
}

// moderatedClass is mayModerate returning the class.
func (s *Service) moderatedClass(ctx context.Context, m Moderation) (store.Class, error) {
	c, err := s.Store.ClassByID(ctx, m.ClassID)
	if errors.Is(err, store.ErrNotFound) {
		return c, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	}
	if err != nil {
		return c, fmt.Errorf("media: moderation: %w", err)
	}
	if c.TeacherID != m.ActorID && m.ActorRole != "admin" {
		return c, problem.New(http.StatusForbidden, problem.CodeForbidden, "only the class's teacher may moderate its room")
	}
	return c, nil
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
