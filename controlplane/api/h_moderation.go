package api

import (
	"net/http"

	"github.com/atrium-live/atrium/controlplane/media"
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

// removeParticipant disconnects a participant from the class room (the class's teacher or an
// admin).
func (h *Handler) removeParticipant(w http.ResponseWriter, r *http.Request, p store.Principal) {
	m, err := moderation(r, p)
	if err == nil {
		err = h.Media.RemoveParticipant(r.Context(), m)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": m.UserID, "removed": true})
}
