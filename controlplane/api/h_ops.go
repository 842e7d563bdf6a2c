package api

import (
	"context"
	"net/http"
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

// openapi serves the spec as JSON, rendered once when the routes are built.
func openapiHandler(spec []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(spec)
	}
}
