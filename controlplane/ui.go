package controlplane

import (
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
)

//go:embed ui
var uiFS embed.FS

// UIConfig configures the browser app.
type UIConfig struct {
	// VendorDir holds livekit-client's dist files (from `npm ci` in web/). Relative paths are
	// relative to the working directory. A missing directory is not a config error: the API
	// and every page but the classroom work without it, and /assets/vendor/ explains what is
	// missing with a 404.
	VendorDir string `yaml:"vendor_dir"`
}

// vendorFiles are the only files served from UIConfig.VendorDir (URL name → file name), so
// the directory's other contents are never exposed.
var vendorFiles = map[string]string{
	"livekit-client.umd.js":     "livekit-client.umd.js",
	"livekit-client.umd.js.map": "livekit-client.umd.js.map",
}

// appPaths are links the server sends out (emails, Stripe redirects) that land on the app
// rather than on a file: they get index.html, whose router maps them to its own routes.
var appPaths = []string{"/verify-email", "/reset-password", "/classes/", "/wallet", "/bookings", "/login", "/register"}

// UI returns the browser app with the default config (livekit-client from
// web/node_modules, relative to the working directory).
func UI() http.Handler { return NewUI(DefaultConfig().UI) }

// NewUI returns the browser app: static files (ui/) at /, livekit-client at
// /assets/vendor/livekit-client.umd.js, and index.html for the app paths emails link to.
// Paths under /api/ are never the UI's: they get the API's JSON 404, so a mistyped endpoint
// is not answered with HTML. The handler is safe for concurrent use.
func NewUI(cfg UIConfig) http.Handler {
	sub, err := fs.Sub(uiFS, "ui")
	if err != nil {
		panic(err) // the embedded directory always exists
	}
	files := http.FileServer(http.FS(sub))
	index, err := fs.ReadFile(sub, "index.html")
	if err != nil {
		panic(err) // embedded at build time
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case strings.HasPrefix(p, "/api/"):
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"not_found","message":"no such endpoint"}}` + "\n"))
		case strings.HasPrefix(p, "/assets/vendor/"):
			serveVendor(w, r, cfg.VendorDir, strings.TrimPrefix(p, "/assets/vendor/"))
		case isAppPath(p):
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-cache")
			_, _ = w.Write(index)
		default:
			if p == "/" || strings.HasSuffix(p, ".html") || strings.HasSuffix(p, ".js") || strings.HasSuffix(p, ".css") {
				// Small, unversioned files: revalidate each time so a deploy shows at once.
				w.Header().Set("Cache-Control", "no-cache")
			}
			files.ServeHTTP(w, r)
		}
	})
}

func isAppPath(p string) bool {
	for _, a := range appPaths {
		if p == a || (strings.HasSuffix(a, "/") && strings.HasPrefix(p, a) && !strings.Contains(p[len(a):], ".")) {
			return true
		}
	}
	return false
}

// serveVendor serves one allow-listed file of dir, or a plain-text 404 that says how to
// install it.
func serveVendor(w http.ResponseWriter, r *http.Request, dir, name string) {
	file, ok := vendorFiles[path.Clean(name)]
	if !ok {
		http.Error(w, "no such vendor file", http.StatusNotFound)
		return
	}
	full := filepath.Join(dir, file)
	f, err := os.Open(full)
	if err != nil {
		msg := "livekit-client is not available: " + full + " cannot be opened"
		if errors.Is(err, fs.ErrNotExist) {
			msg = "livekit-client is not installed: " + full + " is missing. Run `npm ci` in web/ (make build does it), " +
				"or set ui.vendor_dir (ATRIUM_UI_VENDOR_DIR) to the directory holding livekit-client.umd.js."
		}
		http.Error(w, msg, http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.Error(w, "livekit-client is not available: "+full+" is not a file", http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, file, st.ModTime(), f)
}
