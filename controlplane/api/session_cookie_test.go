package api

import "testing"

func TestCSRFCheck(t *testing.T) {
	self := []string{"http://127.0.0.1:8080", "https://atrium.example"}
	for _, tc := range []struct {
		name, header, origin, site string
		ok                         bool
	}{
		{"UI fetch", "1", "http://127.0.0.1:8080", "same-origin", true},
		{"UI through the public URL", "1", "https://atrium.example", "same-origin", true},
		{"non-browser client with the header", "1", "", "", true},
		{"browser without Origin (same-origin GET-like)", "1", "", "same-origin", true},
		{"no header", "", "http://127.0.0.1:8080", "same-origin", false},
		{"another site", "1", "http://evil.example", "cross-site", false},
		{"another site, no fetch metadata", "1", "http://evil.example", "", false},
		{"same site, another port", "1", "http://127.0.0.1:9999", "same-site", false},
		{"opaque origin", "1", "null", "", false},
		{"user-typed navigation", "1", "", "none", false},
		{"case of the scheme and host", "1", "HTTP://127.0.0.1:8080", "same-origin", true},
	} {
		if ok, why := csrfCheck(tc.header, tc.origin, tc.site, self); ok != tc.ok {
			t.Errorf("%s: csrfCheck(%q, %q, %q) = %v (%s), want %v", tc.name, tc.header, tc.origin, tc.site, ok, why, tc.ok)
		}
	}
}
