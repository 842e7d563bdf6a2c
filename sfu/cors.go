package sfu

import "net/http"

// allowAnyOrigin lets browser SDKs on any origin read the answer of an endpoint they fetch()
// rather than open as a WebSocket. livekit-client probes /rtc/v1/validate and /rtc/validate
// with fetch; without these headers a 404 is opaque to it, so it reports "server unreachable"
// instead of falling back from /rtc/v1 to /rtc. Tokens travel in the query, never in cookies,
// so a wildcard origin exposes nothing.
func allowAnyOrigin(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Access-Control-Allow-Origin", "*")
		hdr.Set("Access-Control-Expose-Headers", "*")
		hdr.Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			hdr.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
			hdr.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}
