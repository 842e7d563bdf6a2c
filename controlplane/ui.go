package controlplane

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed ui
var uiFS embed.FS

// UI returns the browser app: static files (ui/) served at /. Paths under /api/ are never
// the UI's: they get the API's JSON 404, so a mistyped endpoint is not answered with HTML.
func UI() http.Handler {
	sub, err := fs.Sub(uiFS, "ui")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	files := http.FileServer(http.FS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such endpoint"}}` + "\n"))
			return
		}
		files.ServeHTTP(w, r)
	})
}
