package media

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// ReceiveWebhook reads r's body, verifies its LiveKit signature (a JWT in Authorization,
// signed with our key pair, carrying the body's SHA-256) and parses the event. A bad or
// missing signature is a 401 problem; nothing is read further.
func (s *Service) ReceiveWebhook(r *http.Request) (*livekit.WebhookEvent, error) {
	ev, err := webhook.ReceiveWebhookEvent(r, s.keys)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, problem.New(http.StatusRequestEntityTooLarge, problem.CodeBodyTooLarge, "request body too large")
		}
		// Debug only: the API logs refusals, rate-limited per client (issue 17, finding 11).
		s.Log.Debug("livekit webhook refused", "err", err)
		return nil, problem.New(http.StatusUnauthorized, problem.CodeInvalidSignature, "webhook signature is missing or invalid")
	}
	if ev.Id == "" || ev.Event == "" {
		return nil, problem.New(http.StatusBadRequest, problem.CodeBadRequest, "webhook event has no id or type")
	}
	return ev, nil
}

// HandleWebhook records ev. Each event id is processed once: a duplicate delivery finds its
// id already stored in the same transaction and changes nothing. Events for rooms that are
// not classes are acknowledged and ignored.
func (s *Service) HandleWebhook(ctx context.Context, ev *livekit.WebhookEvent) error {
	if ev.GetEgressInfo() != nil {
		if s.Recordings == nil {
			return nil
		}
		return s.Recordings.HandleEgressEvent(ctx, ev)
	}
	roomName := ev.GetRoom().GetName()
	if !uuidRE.MatchString(roomName) {
		s.Log.Info("livekit webhook for a non-class room ignored", "event", ev.Event)
		return nil
	}
	now := s.Now()
	at, ok := eventTime(ev.CreatedAt, now)
	if !ok {
		return problem.New(http.StatusUnprocessableEntity, problem.CodeBadRequest,
			"webhook createdAt is not a time this event can have happened (future or absurd)")
	}
	teacherJoined := ""
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		fresh, err := tx.MarkWebhookEvent(ctx, ev.Id, "livekit", ev.Event)
		if err != nil || !fresh {
			return err
		}
		c, err := tx.ClassByIDForUpdate(ctx, roomName)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := s.apply(ctx, tx, ev, c, at); err != nil {
			return fmt.Errorf("media: webhook %s: %w", ev.Event, err)
		}
		if ev.Event == webhook.EventParticipantJoined && ev.GetParticipant().GetIdentity() == c.TeacherID {
			teacherJoined = c.TeacherID
		}
		if s.Hooks == nil {
			return nil
		}
		if c, err = tx.ClassByID(ctx, c.ID); err != nil {
			return err
		}
		return s.Hooks.LiveKitEvent(ctx, tx, ev.Event, c)
	})
	if err == nil && teacherJoined != "" && s.Recordings != nil {
		// After the commit: starting a recording calls the media plane.
		s.Recordings.TeacherJoined(ctx, roomName, teacherJoined)
	}
	return err
}

func (s *Service) apply(ctx context.Context, tx *store.Store, ev *livekit.WebhookEvent, c store.Class, at time.Time) error {
	p := ev.GetParticipant()
	switch ev.Event {
	case webhook.EventRoomStarted:
		_, err := tx.MarkRoomStarted(ctx, c.ID, at)
		return err
	case webhook.EventRoomFinished:
		if _, err := tx.MarkRoomFinished(ctx, c.ID, at); err != nil {
			return err
		}
		return tx.CloseOpenAttendance(ctx, c.ID, ev.GetRoom().GetSid(), at)
	case webhook.EventParticipantJoined:
		if !uuidRE.MatchString(p.GetIdentity()) || p.GetSid() == "" {
			return nil // not one of our users (e.g. the recorder)
		}
		if known, err := userExists(ctx, tx, p.GetIdentity()); err != nil || !known {
			return err // a well-formed id that is not a user: acknowledged, not recorded
		}
		joined := participantJoinedAt(p, at)
		if err := tx.RecordJoin(ctx, c.ID, p.GetIdentity(), p.GetSid(), ev.GetRoom().GetSid(), joined); err != nil {
			return err
		}
		if p.GetIdentity() == c.TeacherID {
			_, err := tx.MarkTeacherJoined(ctx, c.ID, joined)
			return err
		}
		return nil
	case webhook.EventParticipantLeft:
		if !uuidRE.MatchString(p.GetIdentity()) || p.GetSid() == "" {
			return nil
		}
		if known, err := userExists(ctx, tx, p.GetIdentity()); err != nil || !known {
			return err
		}
		return tx.RecordLeave(ctx, c.ID, p.GetIdentity(), p.GetSid(), ev.GetRoom().GetSid(), at)
	}
	return nil
}

// Attendance returns a class's attendance for its teacher or an admin.
func (s *Service) Attendance(ctx context.Context, userID, role, classID string) (store.Class, []store.Attendance, error) {
	c, err := s.Store.ClassByID(ctx, classID)
	if errors.Is(err, store.ErrNotFound) {
		return c, nil, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	}
	if err != nil {
		return c, nil, err
	}
	if c.TeacherID != userID && role != "admin" {
		return c, nil, problem.New(http.StatusForbidden, problem.CodeForbidden, "only the class's teacher may see attendance")
	}
	a, err := s.Store.ClassAttendance(ctx, classID)
	return c, a, err
}

// webhookSkew is how far ahead of our clock an event may be dated (the SFU's clock may run a
// little fast). Events dated further ahead are refused: they must not mark a room started
// or finished, or settle a class, before it happened (issue 17, finding 11).
const webhookSkew = 5 * time.Minute

// webhookMaxAge is how old an event may be: the SFU retries for minutes, not weeks.
const webhookMaxAge = 7 * 24 * time.Hour

// eventTime is when an event with createdAt (Unix seconds; 0 = unset) happened, or false
// when it cannot be true: dated ahead of now by more than webhookSkew, or older than
// webhookMaxAge (which also refuses values PostgreSQL could not store).
func eventTime(createdAt int64, now time.Time) (time.Time, bool) {
	if createdAt == 0 {
		return now, true
	}
	if createdAt < now.Add(-webhookMaxAge).Unix() || createdAt > now.Add(webhookSkew).Unix() {
		return time.Time{}, false
	}
	return time.Unix(createdAt, 0), true
}

// participantJoinedAt is the participant's own join time when it is plausible (not after
// the event, not older than webhookMaxAge), else the event's time.
func participantJoinedAt(p *livekit.ParticipantInfo, at time.Time) time.Time {
	var joined time.Time
	if ms := p.GetJoinedAtMs(); ms > 0 && ms < at.Add(webhookSkew).UnixMilli() {
		joined = time.UnixMilli(ms)
	} else if sec := p.GetJoinedAt(); sec > 0 && sec < at.Add(webhookSkew).Unix() {
		joined = time.Unix(sec, 0)
	}
	if joined.IsZero() || joined.After(at) || joined.Before(at.Add(-webhookMaxAge)) {
		return at
	}
	return joined
}

// userExists reports whether id is a user. Checked before recording attendance: a foreign
// key violation would abort the transaction and answer 500, and the SFU would retry.
func userExists(ctx context.Context, tx *store.Store, id string) (bool, error) {
	_, err := tx.UserByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
