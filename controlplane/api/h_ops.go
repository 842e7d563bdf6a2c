package api

import (
	"context"
	"net/http"
	"sync"
	"time"

	"github.com/atrium-live/atrium/controlplane/problem"
)

// healthz is liveness: it never touches PostgreSQL or Redis, so their outage does not get a
// healthy process killed.
func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyz is readiness: PostgreSQL and Redis must answer within 2 s.
func (h *Handler) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := h.Ready(ctx); err != nil {
		h.Log.Warn("not ready", "err", err)
		writeError(w, r, h.Log, problem.New(http.StatusServiceUnavailable, problem.CodeUnavailable, "dependencies unavailable"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (h *Handler) openapi(w http.ResponseWriter, r *http.Request) {
	b, err := h.specJSON()
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

var specJSONOnce struct {
	sync.Mutex
	b []byte
}

func (h *Handler) specJSON() ([]byte, error) {
	specJSONOnce.Lock()
	defer specJSONOnce.Unlock()
	if specJSONOnce.b == nil {
		b, err := h.Spec.MarshalJSON()
		if err != nil {
			return nil, err
		}
		specJSONOnce.b = b
	}
	return specJSONOnce.b, nil
}
