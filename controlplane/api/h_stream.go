package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

const (
	// streamHeartbeat keeps proxies from closing an idle stream and detects gone clients.
	streamHeartbeat = 15 * time.Second
	// defaultStreamMaxAge bounds one stream: the page reconnects (with Last-Event-ID, so
	// nothing is lost) and so shows a fresh access token; a revoked session cannot keep
	// listening for longer than this even if its session_ended event was lost.
	defaultStreamMaxAge = 10 * time.Minute
	// streamCatchUp bounds the records replayed to a reconnecting stream.
	streamCatchUp = 100
)

// notificationStream is GET /me/notifications/stream: server-sent events of the caller's new
// notifications ("notification", id = record id), read marks ("read") and the end of the
// session ("session_ended", then the stream closes). Authenticated by the bearer access
// token (the page reads the stream with fetch, which can send it; the refresh cookie is
// scoped to /api/v1/auth and never reaches here). A reconnecting client sends Last-Event-ID
// (or ?after=) and first gets the records it missed.
func (h *Handler) notificationStream(w http.ResponseWriter, r *http.Request, p store.Principal) {
	if h.Notify == nil {
		writeError(w, r, h.Log, problem.New(http.StatusServiceUnavailable, problem.CodeUnavailable, "live notifications are off"))
		return
	}
	select {
	case <-h.Notify.Ready():
	case <-r.Context().Done():
		return
	case <-time.After(5 * time.Second):
		writeError(w, r, h.Log, problem.New(http.StatusServiceUnavailable, problem.CodeUnavailable, "live notifications are not ready; retry"))
		return
	}
	last := lastEventID(r)
	sub := h.Notify.Subscribe(p.UserID) // before the catch-up query, so nothing falls between
	defer sub.Close()
	var missed []store.Notification
	if last > 0 {
		var err error
		if missed, err = h.Store.NotificationsAfter(r.Context(), p.UserID, last, streamCatchUp); err != nil {
			writeError(w, r, h.Log, err)
			return
		}
	}

	rc := http.NewResponseController(w)
	// The server's read and write timeouts are for ordinary requests: a read deadline that
	// passes would cancel this request's context, a write deadline would cut the stream.
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, "retry: 2000\n: connected\n\n"); err != nil {
		return
	}
	for _, n := range missed {
		if err := writeEvent(w, "notification", n.ID, viewNotification(n)); err != nil {
			return
		}
		last = n.ID
	}
	if err := rc.Flush(); err != nil {
		return
	}

	maxAge := h.StreamMaxAge
	if maxAge <= 0 {
		maxAge = defaultStreamMaxAge
	}
	end := time.NewTimer(maxAge)
	defer end.Stop()
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-end.C:
			_ = writeEvent(w, "reconnect", 0, map[string]string{"reason": "stream lifetime reached"})
			_ = rc.Flush()
			return
		case <-beat.C:
			_, err = fmt.Fprint(w, ": ping\n\n")
		case ev, ok := <-sub.C:
			if !ok {
				return // dropped for falling behind: the page reconnects and catches up
			}
			switch ev.Type {
			case notify.TypeNotification:
				if ev.ID <= last {
					continue
				}
				last = ev.ID
				err = writeEvent(w, "notification", ev.ID, ev.Payload)
			case notify.TypeRead:
				err = writeEvent(w, "read", 0, map[string]any{"ids": ev.IDs, "all": ev.All})
			case notify.TypeSessionEnded:
				if ev.SessionID == p.SessionID {
					_ = writeEvent(w, "session_ended", 0, map[string]string{})
					_ = rc.Flush()
					return
				}
				continue
			default:
				continue
			}
		}
		if err == nil {
			err = rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// writeEvent writes one server-sent event; id 0 writes no id (the client's last id stays).
func writeEvent(w http.ResponseWriter, event string, id int64, data any) error {
	raw, ok := data.(json.RawMessage)
	if !ok {
		var err error
		if raw, err = json.Marshal(data); err != nil {
			return err
		}
	}
	if id > 0 {
		if _, err := fmt.Fprintf(w, "id: %d\n", id); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, raw)
	return err
}

// lastEventID is where a reconnecting stream resumes: the Last-Event-ID header (SSE) or the
// after query parameter; 0 for a fresh stream.
func lastEventID(r *http.Request) int64 {
	raw := r.Header.Get("Last-Event-ID")
	if raw == "" {
		raw = r.URL.Query().Get("after")
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
