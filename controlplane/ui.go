package controlplane

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed ui
var uiFS embed.FS

// UI returns the browser app (static files served at /).
func UI() http.Handler {
	sub, err := fs.Sub(uiFS, "ui")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	return http.FileServer(http.FS(sub))
}
