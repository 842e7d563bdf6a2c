package api

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Notifications (docs/notifications.md): the list, read marks, per-kind preferences and the
// live stream (server-sent events, fanned out across replicas by notify.Hub).

type notificationView struct {
	ID        int64          `json:"id"`
	Kind      string         `json:"kind"`
	Title     string         `json:"title"`
	Body      string         `json:"body"`
	Data      map[string]any `json:"data"`
	Read      bool           `json:"read"`
	CreatedAt time.Time      `json:"created_at"`
}

func viewNotification(n store.Notification) notificationView {
	return notificationView{ID: n.ID, Kind: n.Kind, Title: n.Title, Body: n.Body, Data: n.Data, Read: n.ReadAt != nil,
		CreatedAt: n.CreatedAt.UTC()}
}

// NotificationEvent turns a stored notification into the hub event the stream sends; the
// control plane's notification sink publishes it after the record commits.
func NotificationEvent(n store.Notification) notify.Event {
	raw, _ := json.Marshal(viewNotification(n)) // plain types: cannot fail
	return notify.Event{Type: notify.TypeNotification, UserID: n.UserID, ID: n.ID, Payload: raw}
}

func (h *Handler) myNotifications(w http.ResponseWriter, r *http.Request, p store.Principal) {
	ns, err := h.Store.UserNotifications(r.Context(), p.UserID, 100)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	unread, err := h.Store.UnreadNotifications(r.Context(), p.UserID)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := make([]notificationView, 0, len(ns))
	for _, n := range ns {
		out = append(out, viewNotification(n))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out, "unread": unread})
}

func (h *Handler) readNotification(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := strconv.ParseInt(pathVar(r, "id"), 10, 64)
	if err != nil || id < 1 {
		writeError(w, r, h.Log, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such notification"))
		return
	}
	if err := h.Store.MarkNotificationRead(r.Context(), p.UserID, id, h.Now()); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	h.publishRead(notify.Event{Type: notify.TypeRead, UserID: p.UserID, IDs: []int64{id}})
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) readAllNotifications(w http.ResponseWriter, r *http.Request, p store.Principal) {
	n, err := h.Store.MarkAllNotificationsRead(r.Context(), p.UserID, h.Now())
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if n > 0 {
		h.publishRead(notify.Event{Type: notify.TypeRead, UserID: p.UserID, All: true})
	}
	writeJSON(w, http.StatusOK, map[string]int64{"marked": n})
}

// publishRead tells the user's other pages (other tabs, devices) to clear read notices.
func (h *Handler) publishRead(ev notify.Event) {
	if h.Notify != nil {
		h.Notify.Enqueue(ev)
	}
}

type preferenceView struct {
	Kind     string `json:"kind"`
	Label    string `json:"label"`
	InApp    bool   `json:"in_app"`
	Email    bool   `json:"email"`
	HasEmail bool   `json:"has_email"`
}

// preferenceViews merges stored choices over the defaults (everything on), in notify.Kinds order.
func preferenceViews(stored []store.NotificationPreference) []preferenceView {
	by := map[string]store.NotificationPreference{}
	for _, p := range stored {
		by[p.Kind] = p
	}
	out := make([]preferenceView, 0, len(notify.Kinds))
	for _, k := range notify.Kinds {
		v := preferenceView{Kind: k.Kind, Label: k.Label, InApp: true, Email: k.HasEmail, HasEmail: k.HasEmail}
		if p, ok := by[k.Kind]; ok {
			v.InApp, v.Email = p.InApp, p.Email && k.HasEmail
		}
		out = append(out, v)
	}
	return out
}

func (h *Handler) getNotificationPreferences(w http.ResponseWriter, r *http.Request, p store.Principal) {
	ps, err := h.Store.NotificationPreferences(r.Context(), p.UserID)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": preferenceViews(ps)})
}

func (h *Handler) putNotificationPreferences(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Items []struct {
			Kind  string `json:"kind"`
			InApp *bool  `json:"in_app"`
			Email *bool  `json:"email"`
		} `json:"items"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	f := problem.Field{}
	for i, it := range in.Items {
		if !notify.Known(it.Kind) {
			f.Add("items["+strconv.Itoa(i)+"].kind", "is not a notification kind")
		}
		if it.InApp == nil || it.Email == nil {
			f.Add("items["+strconv.Itoa(i)+"]", "needs in_app and email")
		}
	}
	if err := f.Err(); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	now := h.Now()
	err := h.Store.InTx(r.Context(), func(tx *store.Store) error {
		for _, it := range in.Items {
			if err := tx.SetNotificationPreference(r.Context(), p.UserID,
				store.NotificationPreference{Kind: it.Kind, InApp: *it.InApp, Email: *it.Email}, now); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	h.getNotificationPreferences(w, r, p)
}
