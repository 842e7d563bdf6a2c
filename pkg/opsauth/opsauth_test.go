package opsauth

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestGuard(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, tc := range []struct {
		token, header string
		want          int
	}{
		{"", "", http.StatusNotFound},
		{"", "Bearer ", http.StatusNotFound},
		{"s3cret", "", http.StatusUnauthorized},
		{"s3cret", "Bearer wrong", http.StatusUnauthorized},
		{"s3cret", "Bearer s3cre", http.StatusUnauthorized},
		{"s3cret", "Basic s3cret", http.StatusUnauthorized},
		{"s3cret", "Bearer s3cret", http.StatusTeapot},
	} {
		r := httptest.NewRequest("GET", "/metrics", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		w := httptest.NewRecorder()
		Guard(tc.token, ok).ServeHTTP(w, r)
		if w.Code != tc.want {
			t.Errorf("Guard(%q) with Authorization %q = %d, want %d", tc.token, tc.header, w.Code, tc.want)
		}
	}
}

// TestFreeOSMemory: the internal listener's /debug/free-os-memory answers POST only.
func TestFreeOSMemory(t *testing.T) {
	mux := Mux(http.NotFoundHandler())
	for method, want := range map[string]int{http.MethodPost: http.StatusNoContent, http.MethodGet: http.StatusMethodNotAllowed} {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, httptest.NewRequest(method, "/debug/free-os-memory", nil))
		if w.Code != want {
			t.Errorf("%s /debug/free-os-memory = %d, want %d", method, w.Code, want)
		}
	}
}
