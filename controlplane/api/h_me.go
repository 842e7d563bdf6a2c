package api

import (
	"net/http"

	"github.com/atrium-live/atrium/controlplane/accounts"
	"github.com/atrium-live/atrium/controlplane/store"
)

func (h *Handler) getMe(w http.ResponseWriter, r *http.Request, p store.Principal) {
	u, err := h.Accounts.Me(r.Context(), p.UserID)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewUser(u))
}

func (h *Handler) patchMe(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Name     *string `json:"name"`
		Bio      *string `json:"bio"`
		TimeZone *string `json:"time_zone"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	u, err := h.Accounts.UpdateMe(r.Context(), p.UserID, accounts.ProfileInput{Name: in.Name, Bio: in.Bio, TimeZone: in.TimeZone})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewUser(u))
}

func (h *Handler) listSessions(w http.ResponseWriter, r *http.Request, p store.Principal) {
	ss, err := h.Accounts.Sessions(r.Context(), p.UserID)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := make([]sessionView, 0, len(ss))
	for _, s := range ss {
		out = append(out, sessionView{ID: s.ID, UserAgent: s.UserAgent, IP: s.IP, CreatedAt: s.CreatedAt,
			LastUsedAt: s.LastUsedAt, ExpiresAt: s.ExpiresAt, Current: s.ID == p.SessionID})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (h *Handler) deleteSession(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err == nil {
		err = h.Accounts.RevokeSession(r.Context(), p.UserID, id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if h.Notify != nil {
		h.Notify.SessionEnded(p.UserID, id) // that device's open pages close their streams
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) deleteOtherSessions(w http.ResponseWriter, r *http.Request, p store.Principal) {
	n, err := h.Accounts.RevokeOtherSessions(r.Context(), p.UserID, p.SessionID)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int64{"revoked": n})
}
