package api

import (
	"time"

	"github.com/atrium-live/atrium/controlplane/store"
)

// JSON shapes of responses. Keep in step with openapi.yaml.

type userView struct {
	ID               string     `json:"id"`
	Email            string     `json:"email"`
	Name             string     `json:"name"`
	Role             string     `json:"role"`
	EmailVerified    bool       `json:"email_verified"`
	TwoFactorEnabled bool       `json:"two_factor_enabled"`
	Bio              string     `json:"bio"`
	TimeZone         string     `json:"time_zone"`
	Suspended        bool       `json:"suspended"`
	CreatedAt        time.Time  `json:"created_at"`
	LockedUntil      *time.Time `json:"locked_until,omitempty"`
}

func viewUser(u store.User) userView {
	return userView{ID: u.ID, Email: u.Email, Name: u.Name, Role: u.Role, EmailVerified: u.EmailVerifiedAt != nil,
		TwoFactorEnabled: u.TOTPSecret != "", Bio: u.Bio, TimeZone: u.TimeZone, Suspended: u.SuspendedAt != nil,
		CreatedAt: u.CreatedAt}
}

type teacherRef struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Rating      *float64 `json:"rating"`
	RatingCount int      `json:"rating_count"`
}

type classView struct {
	ID                 string     `json:"id"`
	Teacher            teacherRef `json:"teacher"`
	Title              string     `json:"title"`
	Topic              string     `json:"topic"`
	Description        string     `json:"description"`
	StartsAt           time.Time  `json:"starts_at"`
	EndsAt             time.Time  `json:"ends_at"`
	DurationMinutes    int        `json:"duration_minutes"`
	TimeZone           string     `json:"time_zone"`
	Capacity           int        `json:"capacity"`
	SeatsTaken         int        `json:"seats_taken"`
	SeatsLeft          int        `json:"seats_left"`
	Tier               string     `json:"tier"`
	PriceCredits       int        `json:"price_credits"`
	Recordable         bool       `json:"recordable"`
	StudentsCanPublish bool       `json:"students_can_publish"`
	Status             string     `json:"status"`
	CancelReason       string     `json:"cancel_reason,omitempty"`
	RoomStartedAt      *time.Time `json:"room_started_at"`
	TeacherJoinedAt    *time.Time `json:"teacher_joined_at"`
	RoomFinishedAt     *time.Time `json:"room_finished_at"`
	CreatedAt          time.Time  `json:"created_at"`
	joinView
}

// joinView is when the class's room admits people, from the server's clock and rules
// (media.Window), so the UI shows join buttons and countdowns without guessing:
// joinable_from/joinable_until are null for a class whose room never opens (cancelled),
// opens_in_seconds counts down to joinable_from (0 once open or over).
type joinView struct {
	JoinableFrom   *time.Time `json:"joinable_from"`
	JoinableUntil  *time.Time `json:"joinable_until"`
	JoinableNow    bool       `json:"joinable_now"`
	OpensInSeconds int        `json:"opens_in_seconds"`
}

// joinWindow renders the join window of a class (h.Media's rules, h.Now's clock).
func (h *Handler) joinWindow(startsAt time.Time, minutes int, status string) joinView {
	if h.Media == nil {
		return joinView{}
	}
	w := h.Media.Window(startsAt, minutes, status)
	if w.Never {
		return joinView{}
	}
	now := h.Now()
	from, until := w.From.UTC(), w.Until.UTC()
	secs := int((w.OpensIn(now) + time.Second - 1) / time.Second) // rounded up: never "0 s" before it opens
	return joinView{JoinableFrom: &from, JoinableUntil: &until, JoinableNow: w.Open(now), OpensInSeconds: secs}
}

// classOut is viewClass with the join window filled in.
func (h *Handler) classOut(c store.Class) classView {
	v := viewClass(c)
	v.joinView = h.joinWindow(c.StartsAt, c.DurationMinutes, c.Status)
	return v
}

func (h *Handler) classesOut(cs []store.Class) []classView {
	out := make([]classView, 0, len(cs))
	for _, c := range cs {
		out = append(out, h.classOut(c))
	}
	return out
}

func viewClass(c store.Class) classView {
	return classView{ID: c.ID, Teacher: teacherRef{ID: c.TeacherID, Name: c.TeacherName, Rating: c.TeacherRating(),
		RatingCount: c.TeacherRatingCount}, Title: c.Title, Topic: c.Topic, Description: c.Description,
		StartsAt: c.StartsAt.UTC(), EndsAt: c.EndsAt().UTC(), DurationMinutes: c.DurationMinutes, TimeZone: c.TimeZone,
		Capacity: c.Capacity, SeatsTaken: c.SeatsTaken, SeatsLeft: c.SeatsLeft(), Tier: c.Tier,
		PriceCredits: c.PriceCredits, Recordable: c.Recordable, StudentsCanPublish: c.StudentsCanPublish,
		Status: c.Status, CancelReason: c.CancelReason, RoomStartedAt: c.RoomStartedAt,
		TeacherJoinedAt: c.TeacherJoinedAt, RoomFinishedAt: c.RoomFinishedAt, CreatedAt: c.CreatedAt}
}

func viewClasses(cs []store.Class) []classView {
	out := make([]classView, 0, len(cs))
	for _, c := range cs {
		out = append(out, viewClass(c))
	}
	return out
}

type sessionView struct {
	ID         string    `json:"id"`
	UserAgent  string    `json:"user_agent"`
	IP         string    `json:"ip"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	Current    bool      `json:"current"`
}

type discountView struct {
	ID         string     `json:"id"`
	Code       string     `json:"code"`
	ClassID    *string    `json:"class_id"`
	Kind       string     `json:"kind"`
	Amount     int        `json:"amount"`
	ValidFrom  time.Time  `json:"valid_from"`
	ValidUntil time.Time  `json:"valid_until"`
	MaxUses    int        `json:"max_uses"`
	Uses       int        `json:"uses"`
	DisabledAt *time.Time `json:"disabled_at"`
}

func viewDiscount(d store.DiscountCode) discountView {
	v := discountView{ID: d.ID, Code: d.Code, Kind: d.Kind, Amount: d.Amount, ValidFrom: d.ValidFrom,
		ValidUntil: d.ValidUntil, MaxUses: d.MaxUses, Uses: d.Uses, DisabledAt: d.DisabledAt}
	if d.ClassID != "" {
		v.ClassID = &d.ClassID
	}
	return v
}

type auditView struct {
	ID         int64          `json:"id"`
	At         time.Time      `json:"at"`
	ActorID    *string        `json:"actor_id"`
	Action     string         `json:"action"`
	TargetType string         `json:"target_type"`
	TargetID   string         `json:"target_id"`
	Details    map[string]any `json:"details"`
	RequestID  string         `json:"request_id"`
}

type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}
