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
	// HLSDir holds hls.js's dist files (also from `npm ci` in web/), served for recording
	// playback at /assets/vendor/hls.min.js; missing, the recordings page explains why.
	HLSDir string `yaml:"hls_dir"`
}

// vendorFile is one allow-listed library file: which library, and its name in its directory.
type vendorFile struct{ lib, file string }

// vendorFiles are the only files served from UIConfig.VendorDir and HLSDir (URL name →
// file), so the directories' other contents are never exposed.
var vendorFiles = map[string]vendorFile{
	"livekit-client.umd.js":     {"livekit-client", "livekit-client.umd.js"},
	"livekit-client.umd.js.map": {"livekit-client", "livekit-client.umd.js.map"},
	"hls.min.js":                {"hls.js", "hls.min.js"},
	"hls.min.js.map":            {"hls.js", "hls.min.js.map"},
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
			serveVendor(w, r, cfg, strings.TrimPrefix(p, "/assets/vendor/"))
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
func serveVendor(w http.ResponseWriter, r *http.Request, cfg UIConfig, name string) {
	vf, ok := vendorFiles[path.Clean(name)]
	if !ok {
		http.Error(w, "no such vendor file", http.StatusNotFound)
		return
	}
	dir, setting := cfg.VendorDir, "ui.vendor_dir (ATRIUM_UI_VENDOR_DIR)"
	if vf.lib == "hls.js" {
		dir, setting = cfg.HLSDir, "ui.hls_dir (ATRIUM_UI_HLS_DIR)"
	}
	file := vf.file
	full := filepath.Join(dir, file)
	f, err := os.Open(full)
	if err != nil {
		msg := vf.lib + " is not available: " + full + " cannot be opened"
		if errors.Is(err, fs.ErrNotExist) {
			msg = vf.lib + " is not installed: " + full + " is missing. Run `npm ci` in web/ (make build does it), " +
				"or set " + setting + " to the directory holding " + file + "."
		}
		http.Error(w, msg, http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || st.IsDir() {
		http.Error(w, vf.lib+" is not available: "+full+" is not a file", http.StatusNotFound)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=3600")
	http.ServeContent(w, r, file, st.ModTime(), f)
}
