package api

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/calendar"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// The private iCal feed (docs/notifications.md, "Calendars"): a secret URL per user that
// calendar apps poll. The token is the only credential (apps cannot sign in), stored as a
// hash; making a new one revokes the old, and it can be revoked outright.

const (
	feedPast  = 30 * 24 * time.Hour // classes that ended within this stay in the feed
	feedLimit = 500
)

func (h *Handler) feedURL(token string) string {
	return h.PublicURL + "/api/v1/calendar/" + token + ".ics"
}

func (h *Handler) getCalendarFeed(w http.ResponseWriter, r *http.Request, p store.Principal) {
	at, err := h.Store.CalendarTokenCreatedAt(r.Context(), p.UserID)
	if errors.Is(err, store.ErrNotFound) {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": true, "created_at": at.UTC()})
}

// createCalendarFeed makes a new feed URL (the only time its token is shown) and revokes the
// previous one.
func (h *Handler) createCalendarFeed(w http.ResponseWriter, r *http.Request, p store.Principal) {
	token, hash, err := auth.NewOpaqueToken()
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	now := h.Now()
	err = h.Store.InTx(r.Context(), func(tx *store.Store) error {
		if err := tx.ReplaceCalendarToken(r.Context(), p.UserID, hash, now); err != nil {
			return err
		}
		return tx.AppendAudit(r.Context(), store.AuditEntry{ActorID: p.UserID, Action: "calendar.feed_created",
			TargetType: "user", TargetID: p.UserID})
	})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, map[string]any{"active": true, "url": h.feedURL(token), "created_at": now.UTC()})
}

func (h *Handler) deleteCalendarFeed(w http.ResponseWriter, r *http.Request, p store.Principal) {
	if _, err := h.Store.RevokeCalendarTokens(r.Context(), p.UserID, h.Now()); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// calendarFeed serves GET /calendar/{token}.ics: the user's booked and taught classes from a
// month ago on, each in its class's time zone (VTIMEZONE included). UIDs are the invites',
// so a class that came by email and by feed is one event.
func (h *Handler) calendarFeed(w http.ResponseWriter, r *http.Request) {
	notFound := problem.New(http.StatusNotFound, problem.CodeNotFound, "no such calendar")
	token := pathVar(r, "token")
	if len(token) < 20 || len(token) > 100 {
		writeError(w, r, h.Log, notFound)
		return
	}
	userID, err := h.Store.CalendarTokenUser(r.Context(), auth.HashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, r, h.Log, notFound)
		return
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	now := h.Now()
	es, err := h.Store.CalendarEntries(r.Context(), userID, now.Add(-feedPast), feedLimit)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	domain := "atrium.local"
	if u, err := url.Parse(h.PublicURL); err == nil && u.Hostname() != "" {
		domain = u.Hostname()
	}
	cal := calendar.Calendar{Name: "Atrium classes", Stamp: now}
	for _, e := range es {
		link := h.PublicURL + "/classes/" + e.ClassID
		ev := calendar.Event{Start: e.StartsAt, End: e.StartsAt.Add(time.Duration(e.Minutes) * time.Minute),
			TimeZone: e.TimeZone, Summary: e.Title, URL: link, Sequence: 0}
		if e.Role == "teacher" {
			ev.UID = booking.ClassUID(e.ClassID, domain)
			ev.Description = "You teach this class. Start it at " + link
		} else {
			ev.UID = booking.BookingUID(e.BookingID, domain)
			ev.Description = "With " + e.Teacher + ". Join at " + link
		}
		cal.Events = append(cal.Events, ev)
	}
	raw, err := cal.Bytes()
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Content-Disposition", `inline; filename="atrium.ics"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(raw)
}
