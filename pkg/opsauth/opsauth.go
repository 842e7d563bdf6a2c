// Package opsauth guards operator endpoints (Prometheus /metrics, pprof) that share a
// listener with public traffic: they answer only a caller presenting the configured bearer
// token (issue 17, finding 12). Any service may import it.
package opsauth

import (
	"crypto/subtle"
	"net/http"
	"net/http/pprof"
	"runtime/debug"
	"strings"
)

// Guard serves h only to requests carrying "Authorization: Bearer <token>". With an empty
// token the endpoint is off on this listener: every request gets 404, as if it did not
// exist. A wrong or missing token gets 401. The comparison takes constant time.
func Guard(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if token == "" {
			http.NotFound(w, r)
			return
		}
		if !Allowed(token, r) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			http.Error(w, "metrics need the operator token", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Allowed reports whether r carries the bearer token (never true for an empty token).
func Allowed(token string, r *http.Request) bool {
	if token == "" {
		return false
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

// Mux serves the operator endpoints for an internal listener (one that only operators can
// reach, e.g. a port no Service or ingress exposes): /metrics and net/http/pprof under
// /debug/pprof/. It does no authentication of its own; wrap it in Guard to require a token.
func Mux(metrics http.Handler) *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("/metrics", metrics)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("/debug/free-os-memory", freeOSMemory)
	return mux
}

// freeOSMemory (POST) forces a garbage collection and returns as much memory to the operating
// system as the runtime can. `make soak` calls it before reading a node's RSS: otherwise RSS
// after a round depends on whether the Go scavenger has run yet (the same idle node read 72 MB
// and 102 MB two rounds apart), and a leak hides in that scatter.
func freeOSMemory(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	debug.FreeOSMemory()
	w.WriteHeader(http.StatusNoContent)
}
