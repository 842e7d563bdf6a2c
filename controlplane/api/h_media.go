package api

import (
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/media"
	"github.com/atrium-live/atrium/controlplane/store"
)

func (h *Handler) joinClass(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var g media.Grant
	if err == nil {
		g, err = h.Media.Join(r.Context(), media.Participant{UserID: p.UserID, Name: p.Name, Role: p.Role}, id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	role := "student"
	switch {
	case g.Teacher:
		role = "teacher"
	case p.Role == "admin":
		role = "admin"
	}
	writeJSON(w, http.StatusOK, map[string]any{"url": g.URL, "token": g.Token, "room": g.Room, "identity": g.Identity,
		"role": role, "can_publish": g.CanPublish,
		"expires_at": g.ExpiresAt.UTC(), "ice_servers": g.ICEServers})
}

type attendanceView struct {
	UserID          string     `json:"user_id"`
	ParticipantSID  string     `json:"participant_sid"`
	JoinedAt        time.Time  `json:"joined_at"`
	LeftAt          *time.Time `json:"left_at"`
	DurationSeconds *int       `json:"duration_seconds"`
}

func (h *Handler) classAttendance(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var (
		c  store.Class
		as []store.Attendance
	)
	if err == nil {
		c, as, err = h.Media.Attendance(r.Context(), p.UserID, p.Role, id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	items := make([]attendanceView, 0, len(as))
	for _, a := range as {
		items = append(items, attendanceView{UserID: a.UserID, ParticipantSID: a.ParticipantSID, JoinedAt: a.JoinedAt,
			LeftAt: a.LeftAt, DurationSeconds: a.DurationSeconds})
	}
	writeJSON(w, http.StatusOK, map[string]any{"class_id": c.ID, "room_started_at": c.RoomStartedAt,
		"teacher_joined_at": c.TeacherJoinedAt, "room_finished_at": c.RoomFinishedAt, "items": items})
}

// livekitWebhook verifies and records a LiveKit-format webhook from the SFU. It answers 200
// once the event is stored (or was already), so the sender's retries stop.
func (h *Handler) livekitWebhook(w http.ResponseWriter, r *http.Request) {
	ev, err := h.Media.ReceiveWebhook(r)
	if err == nil {
		err = h.Media.HandleWebhook(r.Context(), ev)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}
