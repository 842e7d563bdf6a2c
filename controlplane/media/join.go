// Package media connects the control plane to the SFU, which it never imports: it mints
// LiveKit access tokens for class rooms (room name = class id, identity = user id) and turns
// the SFU's signed LiveKit webhooks into attendance and room lifecycle marks.
//
// A *Service is safe for concurrent use.
package media

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/controlplane/lifecycle"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
	"github.com/atrium-live/atrium/pkg/turncred"
)

// BookingChecker says whether a student holds a confirmed booking for a class. Bookings
// (the money issue) implement it; until then NoBookings refuses every student.
type BookingChecker interface {
	HasConfirmedBooking(ctx context.Context, classID, userID string) (bool, error)
}

// NoBookings is the BookingChecker used before bookings exist: nobody is booked.
type NoBookings struct{}

// HasConfirmedBooking always reports false.
func (NoBookings) HasConfirmedBooking(context.Context, string, string) (bool, error) {
	return false, nil
}

// EventHooks lets other parts (no-show refunds, settlement) react to LiveKit webhooks inside
// the transaction that records them; a duplicate delivery never reaches the hooks. c is the
// class the room belongs to, after this event's marks were applied.
type EventHooks interface {
	LiveKitEvent(ctx context.Context, tx *store.Store, event string, c store.Class) error
}

// RecordingEvents is what recordings need from the media plane's webhooks: the recorders'
// egress events, and the teacher joining (auto-record). TeacherJoined runs after the join
// is stored and must not block for long.
type RecordingEvents interface {
	HandleEgressEvent(ctx context.Context, ev *livekit.WebhookEvent) error
	TeacherJoined(ctx context.Context, classID, teacherID string)
}

// Config is the SFU key pair and where clients connect.
type Config struct {
	APIKey    string
	APISecret string
	URL       string // public ws(s):// URL of the SFU or signaling gateway
	// Lifecycle is the class lifecycle policy (docs/classes.md); the join window is
	// Lifecycle.JoinEarly before the start to the scheduled end plus Lifecycle.RejoinGrace,
	// or the explicit End.
	Lifecycle  lifecycle.Policy
	TokenTTL   time.Duration // join token lifetime (zero: 10 minutes); the SFU refreshes it
	TURNURLs   []string      // optional TURN servers (turn:host:3478?transport=udp, turns:...)
	TURNSecret string
	TURNTTL    time.Duration
}

// Deps are the service's collaborators; Hooks may be nil.
type Deps struct {
	Store    *store.Store
	Bookings BookingChecker
	Hooks    EventHooks
	// Recordings may be nil (egress events are then acknowledged and ignored).
	Recordings RecordingEvents
	Log        *slog.Logger
	Now        func() time.Time
}

// Service mints join tokens and records attendance.
type Service struct {
	cfg  Config
	keys lkauth.KeyProvider
	Deps
}

// New returns a Service.
func New(cfg Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Bookings == nil {
		d.Bookings = NoBookings{}
	}
	return &Service{cfg: cfg, keys: lkauth.NewSimpleKeyProvider(cfg.APIKey, cfg.APISecret), Deps: d}
}

// DefaultTokenTTL is the join token lifetime when Config.TokenTTL is zero.
const DefaultTokenTTL = 10 * time.Minute

// Participant is who wants to join. Role is the account's role: admins may join any class
// (as moderators, even while it is locked).
type Participant struct {
	UserID string
	Name   string
	Role   string
}

// ICEServer is a STUN/TURN server for the client.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Grant is what a participant needs to connect to the class room.
type Grant struct {
	URL        string
	Token      string
	Room       string
	Identity   string
	Teacher    bool
	CanPublish bool
	ExpiresAt  time.Time
	ICEServers []ICEServer
}

// Join returns a LiveKit token for the class room: the teacher (and an admin) may publish
// and administer the room, a booked student may publish if the class allows. Joining is open
// while the class lifecycle says so (docs/classes.md): from Lifecycle.JoinEarly before the
// start to the scheduled end plus Lifecycle.RejoinGrace, unless the class was ended for
// everyone or its money outcome is decided. Leaving and coming back within that window is
// always possible, except for a student banned from the class, or one who is not in the room
// while the teacher has locked it.
func (s *Service) Join(ctx context.Context, p Participant, classID string) (Grant, error) {
	c, err := s.Store.ClassByID(ctx, classID)
	if errors.Is(err, store.ErrNotFound) {
		return Grant{}, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	}
	if err != nil {
		return Grant{}, err
	}
	teacher := c.TeacherID == p.UserID
	moderator := teacher || p.Role == "admin"
	if !moderator {
		banned, err := s.Store.IsBanned(ctx, classID, p.UserID)
		if err != nil {
			return Grant{}, fmt.Errorf("media: ban check: %w", err)
		}
		if banned {
			return Grant{}, problem.New(http.StatusForbidden, problem.CodeBannedFromClass,
				"the teacher removed you from this class; you cannot rejoin it")
		}
		ok, err := s.Bookings.HasConfirmedBooking(ctx, classID, p.UserID)
		if err != nil {
			return Grant{}, fmt.Errorf("media: booking check: %w", err)
		}
		if !ok {
			return Grant{}, problem.New(http.StatusForbidden, problem.CodeNotBooked, "only the teacher and booked students can join this class")
		}
	}
	if c.Status == store.ClassCancelled {
		return Grant{}, problem.New(http.StatusConflict, problem.CodeClassCancelled, "the class was cancelled")
	}
	now := s.Now()
	facts := lifecycle.Class{Start: c.StartsAt, End: c.EndsAt(), EndedAt: c.EndedAt, TeacherShowed: c.TeacherShowed}
	if o, err := s.Store.ClassOutcomeByID(ctx, classID); err == nil {
		facts.Outcome = o.Outcome
	} else if !errors.Is(err, store.ErrNotFound) {
		return Grant{}, fmt.Errorf("media: class outcome: %w", err)
	}
	d := lifecycle.Decide(facts, s.cfg.Lifecycle, now)
	switch {
	case d.State == lifecycle.Scheduled:
		e := problem.New(http.StatusConflict, problem.CodeJoinTooEarly,
			fmt.Sprintf("the class room opens %s before the start", fmtMinutes(s.cfg.Lifecycle.JoinEarly)))
		e.Details = map[string]any{"opens_at": d.OpensAt.UTC().Format(time.RFC3339)}
		e.RetryAfter = d.OpensAt.Sub(now)
		return Grant{}, e
	case !d.Joinable:
		e := problem.New(http.StatusConflict, problem.CodeClassEnded, "the class has ended")
		e.Details = map[string]any{"state": string(d.State), "closed_at": d.ClosesAt.UTC().Format(time.RFC3339)}
		return Grant{}, e
	}
	if c.LockedAt != nil && !moderator {
		in, err := s.Store.InRoom(ctx, classID, p.UserID)
		if err != nil {
			return Grant{}, fmt.Errorf("media: room check: %w", err)
		}
		if !in {
			return Grant{}, problem.New(http.StatusConflict, problem.CodeRoomLocked,
				"the teacher has locked the class room; only those already in it can come back until it is unlocked")
		}
	}
	canPublish := moderator || c.StudentsCanPublish
	yes := true
	// Short-lived (issue 17, finding 8): a token handed out before a booking was cancelled
	// must stop opening the room soon. Connected participants get fresh tokens from the SFU
	// over the signal connection (refresh_token), which reconnects use.
	ttl := s.cfg.TokenTTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	if end := d.ClosesAt.Sub(now) + 5*time.Minute; end < ttl {
		ttl = end
	}
	tok, err := lkauth.NewAccessToken(s.cfg.APIKey, s.cfg.APISecret).
		SetIdentity(p.UserID).
		SetName(p.Name).
		SetValidFor(ttl).
		SetVideoGrant(&lkauth.VideoGrant{
			RoomJoin:             true,
			Room:                 c.ID,
			RoomAdmin:            moderator,
			CanPublish:           &canPublish,
			CanSubscribe:         &yes,
			CanPublishData:       &yes,
			CanUpdateOwnMetadata: &yes,
		}).ToJWT()
	if err != nil {
		return Grant{}, fmt.Errorf("media: sign join token: %w", err)
	}
	g := Grant{URL: s.cfg.URL, Token: tok, Room: c.ID, Identity: p.UserID, Teacher: teacher,
		CanPublish: canPublish, ExpiresAt: now.Add(ttl), ICEServers: []ICEServer{}}
	if s.cfg.TURNSecret != "" {
		user, pass := turncred.Generate(s.cfg.TURNSecret, p.UserID, s.cfg.TURNTTL, now)
		g.ICEServers = append(g.ICEServers, ICEServer{URLs: s.cfg.TURNURLs, Username: user, Credential: pass})
	}
	return g, nil
}

// fmtMinutes says d as people do: "15 minutes", "1 minute", "90 seconds".
func fmtMinutes(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "1 minute"
	case d%time.Minute == 0:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	}
	return fmt.Sprintf("%d seconds", int(d/time.Second))
}
