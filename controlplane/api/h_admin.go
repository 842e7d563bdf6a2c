package api

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/atrium-live/atrium/controlplane/accounts"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

type userCursor struct {
	T  time.Time `json:"t"`
	ID string    `json:"i"`
}

func (h *Handler) listUsers(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	f := problem.Field{}
	q := r.URL.Query()
	filter := store.UserFilter{Query: q.Get("q"), Role: q.Get("role"), Limit: 50}
	if l := queryInt(r, f, "limit", 1, 200); l != nil {
		filter.Limit = *l
	}
	if c := q.Get("cursor"); c != "" {
		var uc userCursor
		if !decodeCursor(c, &uc) || !isUUID(uc.ID) {
			f.Add("cursor", "is not a cursor from a previous page")
		} else {
			filter.BeforeTime, filter.BeforeID = &uc.T, uc.ID
		}
	}
	if err := f.Err(); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	users, err := h.Accounts.ListUsers(r.Context(), filter)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := page[userView]{Items: make([]userView, 0, len(users))}
	for _, u := range users {
		v := viewUser(u)
		v.LockedUntil = u.LockedUntil
		out.Items = append(out.Items, v)
	}
	if len(users) == filter.Limit {
		last := users[len(users)-1]
		c := encodeCursor(userCursor{T: last.CreatedAt, ID: last.ID})
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) patchUser(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var in struct {
		Role      *string `json:"role"`
		Suspended *bool   `json:"suspended"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	u, err := h.Accounts.AdminUpdateUser(r.Context(), p.UserID, id, accounts.AdminUpdate{Role: in.Role, Suspended: in.Suspended})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewUser(u))
}

func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	f := problem.Field{}
	q := r.URL.Query()
	filter := store.AuditFilter{Action: q.Get("action"), TargetID: q.Get("target_id"), Limit: 100}
	if a := q.Get("actor_id"); a != "" {
		if !isUUID(a) {
			f.Add("actor_id", "must be a UUID")
		}
		filter.ActorID = a
	}
	if l := queryInt(r, f, "limit", 1, 500); l != nil {
		filter.Limit = *l
	}
	if c := q.Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			f.Add("cursor", "is not a cursor from a previous page")
		}
		filter.BeforeID = n
	}
	if err := f.Err(); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	entries, err := h.Store.ListAudit(r.Context(), filter)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := page[auditView]{Items: make([]auditView, 0, len(entries))}
	for _, e := range entries {
		v := auditView{ID: e.ID, At: e.At, Action: e.Action, TargetType: e.TargetType, TargetID: e.TargetID,
			Details: e.Details, RequestID: e.RequestID}
		if e.ActorID != "" {
			a := e.ActorID
			v.ActorID = &a
		}
		out.Items = append(out.Items, v)
	}
	if len(entries) == filter.Limit {
		c := strconv.FormatInt(entries[len(entries)-1].ID, 10)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

// Cursors are opaque to clients: base64url of a small JSON keyset position. Tampering can only
// move the page, never widen what a query may read.
func encodeCursor(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && json.Unmarshal(b, v) == nil
}
