package api

import (
	"net/http"

	"github.com/atrium-live/atrium/controlplane/media"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// moderation reads the class and participant ids shared by the moderation routes.
func moderation(r *http.Request, p store.Principal) (media.Moderation, error) {
	classID, err := pathUUID(r, "id")
	if err != nil {
		return media.Moderation{}, err
	}
	userID, err := pathUUID(r, "userID")
	if err != nil {
		return media.Moderation{}, err
	}
	return media.Moderation{ActorID: p.UserID, ActorRole: p.Role, ClassID: classID, UserID: userID}, nil
}

// muteParticipant mutes a participant's published audio, video or both (the class's teacher
// or an admin).
func (h *Handler) muteParticipant(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var body struct {
		Kind string `json:"kind"`
	}
	m, err := moderation(r, p)
	if err == nil {
		err = decode(r, &body)
	}
	var muted []string
	if err == nil {
		muted, err = h.Media.MuteParticipant(r.Context(), m, media.MuteKind(body.Kind))
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": m.UserID, "kind": body.Kind, "muted_tracks": muted})
}

// removeParticipant disconnects a participant from the class room, and with {"ban": true}
// bans them from the class (the class's teacher or an admin).
func (h *Handler) removeParticipant(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var body struct {
		Ban    bool   `json:"ban"`
		Reason string `json:"reason"`
	}
	m, err := moderation(r, p)
	if err == nil {
		err = decodeOptional(r, &body)
	}
	var res media.RemoveResult
	if err == nil {
		res, err = h.Media.RemoveParticipant(r.Context(), m, media.RemoveInput{Ban: body.Ban, Reason: body.Reason})
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": m.UserID, "removed": res.Removed, "banned": res.Banned})
}

// roomModeration reads the class id of a whole-room moderation route.
func roomModeration(r *http.Request, p store.Principal) (media.Moderation, error) {
	classID, err := pathUUID(r, "id")
	return media.Moderation{ActorID: p.UserID, ActorRole: p.Role, ClassID: classID}, err
}

// lockClassRoom locks or unlocks the class room: while locked, students not already in it
// cannot join (the class's teacher or an admin).
func (h *Handler) lockClassRoom(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var body struct {
		Locked *bool `json:"locked"`
	}
	m, err := roomModeration(r, p)
	if err == nil {
		err = decode(r, &body)
	}
	if err == nil && body.Locked == nil {
		err = problem.Validation(map[string]string{"locked": "is required"})
	}
	var res media.LockResult
	if err == nil {
		res, err = h.Media.SetLock(r.Context(), m, *body.Locked)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"class_id": m.ClassID, "locked": res.Locked})
}

// muteAll mutes every student's published audio (the class's teacher or an admin).
func (h *Handler) muteAll(w http.ResponseWriter, r *http.Request, p store.Principal) {
	m, err := roomModeration(r, p)
	var res media.MuteAllResult
	if err == nil {
		res, err = h.Media.MuteAll(r.Context(), m)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"class_id": m.ClassID, "muted_participants": res.Participants,
		"muted_tracks": res.Tracks})
}

// lowerHands lowers every raised hand (the class's teacher or an admin).
func (h *Handler) lowerHands(w http.ResponseWriter, r *http.Request, p store.Principal) {
	m, err := roomModeration(r, p)
	var lowered []string
	if err == nil {
		lowered, err = h.Media.LowerHands(r.Context(), m)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"class_id": m.ClassID, "lowered": lowered})
}
