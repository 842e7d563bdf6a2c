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
	APIKey     string
	APISecret  string
	URL        string        // public ws(s):// URL of the SFU or signaling gateway
	JoinEarly  time.Duration // how long before the start joining opens
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

// Participant is who wants to join.
type Participant struct {
	UserID string
	Name   string
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

// Join returns a LiveKit token for the class room: the teacher may publish and administer
// the room, a booked student may publish if the class allows. Joining is open from JoinEarly
// before the start until the scheduled end.
func (s *Service) Join(ctx context.Context, p Participant, classID string) (Grant, error) {
	c, err := s.Store.ClassByID(ctx, classID)
	if errors.Is(err, store.ErrNotFound) {
		return Grant{}, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	}
	if err != nil {
		return Grant{}, err
	}
	teacher := c.TeacherID == p.UserID
	if !teacher {
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
	win := s.Window(c.StartsAt, c.DurationMinutes, c.Status)
	opens := win.From
	if now.Before(opens) {
		e := problem.New(http.StatusConflict, problem.CodeJoinTooEarly, "the class room opens 15 minutes before the start")
		e.Details = map[string]any{"opens_at": opens.UTC().Format(time.RFC3339)}
		e.RetryAfter = opens.Sub(now)
		return Grant{}, e
	}
	if !now.Before(win.Until) {
		return Grant{}, problem.New(http.StatusConflict, problem.CodeClassEnded, "the class has ended")
	}
	canPublish := teacher || c.StudentsCanPublish
	yes := true
	// Short-lived (issue 17, finding 8): a token handed out before a booking was cancelled
	// must stop opening the room soon. Connected participants get fresh tokens from the SFU
	// over the signal connection (refresh_token), which reconnects use.
	ttl := s.cfg.TokenTTL
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	if end := c.EndsAt().Sub(now) + 15*time.Minute; end < ttl {
		ttl = end
	}
	tok, err := lkauth.NewAccessToken(s.cfg.APIKey, s.cfg.APISecret).
		SetIdentity(p.UserID).
		SetName(p.Name).
		SetValidFor(ttl).
		SetVideoGrant(&lkauth.VideoGrant{
			RoomJoin:             true,
			Room:                 c.ID,
			RoomAdmin:            teacher,
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
