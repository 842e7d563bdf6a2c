package api

import (
	"bytes"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/roster"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Class lifecycle (docs/classes.md) and the teacher's roster.

type endEffectView struct {
	Outcome          string    `json:"outcome"`
	TaughtMinutes    int       `json:"taught_minutes"`
	ScheduledMinutes int       `json:"scheduled_minutes"`
	RefundCredits    int       `json:"refund_credits"`
	PriceCredits     int       `json:"price_credits"`
	SettlesAt        time.Time `json:"settles_at"`
	Message          string    `json:"message"`
}

func viewEndEffect(e booking.EndEffect) endEffectView {
	return endEffectView{Outcome: e.Outcome, TaughtMinutes: e.TaughtMinutes, ScheduledMinutes: e.ScheduledMinutes,
		RefundCredits: e.RefundCredits, PriceCredits: e.PriceCredits, SettlesAt: e.SettlesAt.UTC(), Message: e.Message}
}

func viewLifecycle(l booking.Lifecycle) map[string]any {
	out := map[string]any{"class_id": l.ClassID, "state": l.State, "joinable": l.Joinable, "opens_at": l.OpensAt.UTC(),
		"closes_at": l.ClosesAt.UTC(), "settles_at": utcPtr(l.SettlesAt), "ended_at": utcPtr(l.EndedAt), "locked": l.Locked,
		"outcome": nil}
	if l.Outcome != "" {
		out["outcome"] = l.Outcome
	}
	if l.EndPreview != nil {
		out["end_preview"] = viewEndEffect(*l.EndPreview)
	}
	return out
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// classLifecycle says where a class stands (any signed-in user); its teacher or an admin also
// gets what "End class for everyone" would do now.
func (h *Handler) classLifecycle(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var l booking.Lifecycle
	if err == nil {
		l, err = h.Money.Booking.ClassLifecycle(r.Context(), bookingActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewLifecycle(l))
}

// endClass ends a class for everyone (its teacher or an admin), then closes its room.
func (h *Handler) endClass(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var res booking.EndResult
	if err == nil {
		res, err = h.Money.Booking.EndClass(r.Context(), bookingActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	h.closeMediaRoom(r.Context(), id)
	out := viewLifecycle(res.Lifecycle)
	out["already_ended"] = res.AlreadyEnded
	out["effect"] = viewEndEffect(res.Effect)
	writeJSON(w, http.StatusOK, out)
}

type avatarView struct {
	Initials string `json:"initials"`
	Color    string `json:"color"`
}

func (h *Handler) classRoster(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var ros roster.Roster
	if err == nil {
		ros, err = h.Roster.Get(r.Context(), p.UserID, p.Role, id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	students := make([]map[string]any, 0, len(ros.Students))
	for _, s := range ros.Students {
		students = append(students, map[string]any{"user_id": s.UserID, "name": s.Name,
			"avatar": avatarView(s.Avatar), "booking_id": s.BookingID, "booking_status": s.BookingStatus,
			"booked_at": s.BookedAt.UTC(), "attended": s.Attended, "attended_seconds": s.AttendedSeconds,
			"first_joined_at": utcPtr(s.FirstJoinedAt), "last_left_at": utcPtr(s.LastLeftAt), "in_room": s.InRoom,
			"banned": s.Banned})
	}
	waiting := make([]map[string]any, 0, len(ros.Waitlist))
	for _, q := range ros.Waitlist {
		waiting = append(waiting, map[string]any{"user_id": q.UserID, "name": q.Name, "avatar": avatarView(q.Avatar),
			"status": q.Status, "position": q.Position, "offer_expires_at": utcPtr(q.OfferExpiresAt), "since": q.Since.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{"class_id": ros.ClassID, "title": ros.Title, "starts_at": ros.StartsAt.UTC(),
		"ends_at": ros.EndsAt.UTC(), "capacity": ros.Capacity, "seats_taken": ros.SeatsTaken, "state": ros.State,
		"teacher_attended_seconds": ros.TeacherAttendedSeconds, "students": students, "waitlist": waiting})
}

func (h *Handler) classRosterCSV(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var ros roster.Roster
	if err == nil {
		ros, err = h.Roster.Get(r.Context(), p.UserID, p.Role, id)
	}
	var buf bytes.Buffer
	if err == nil {
		err = roster.WriteCSV(&buf, ros)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="atrium-roster-`+ros.ClassID+`.csv"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// messageClass emails and notifies every booked student of a class (its teacher or an admin).
func (h *Handler) messageClass(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var in struct {
		Message string `json:"message"`
	}
	if err == nil {
		err = decode(r, &in)
	}
	var res roster.MessageResult
	if err == nil {
		res, err = h.Roster.Message(r.Context(), p.UserID, p.Role, p.Name, id, in.Message)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"class_id": id, "recipients": res.Recipients})
}
