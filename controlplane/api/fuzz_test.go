package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// actualDepth is the nesting depth of valid JSON, measured by the standard decoder.
func actualDepth(data []byte) (int, bool) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	depth, max := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return max, true
		}
		if err != nil {
			return 0, false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			if depth > max {
				max = depth
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
}

// FuzzJSONDepth: on valid JSON, jsonDepthOK agrees with the real depth.
func FuzzJSONDepth(f *testing.F) {
	for _, s := range []string{`{}`, `[[[]]]`, `{"a":"[[["}`, `{"a":"\\"}`, `{"a":"\"[["}`, `[{"x":[1,{"y":[]}]}]`,
		strings.Repeat("[", 40) + strings.Repeat("]", 40)} {
		f.Add([]byte(s), 3)
	}
	f.Fuzz(func(t *testing.T, data []byte, max int) {
		if max < 0 || max > 64 {
			return
		}
		ok := jsonDepthOK(data, max)
		d, valid := actualDepth(data)
		if valid && ok != (d <= max) {
			t.Fatalf("jsonDepthOK(%q, %d) = %v, real depth %d", data, max, ok, d)
		}
	})
}

// FuzzForwardedClient: the answer is the peer or a well-formed address from the header.
func FuzzForwardedClient(f *testing.F) {
	f.Add("127.0.0.1", "6.6.6.6, 203.0.113.7", "10.0.0.0/8")
	f.Add("10.1.1.1", "::ffff:1.2.3.4,,, 10.0.0.1", "10.0.0.0/8")
	f.Add("10.1.1.1", "garbage", "")
	f.Fuzz(func(t *testing.T, peer, xff, trusted string) {
		var pfx []netip.Prefix
		if trusted != "" {
			p, err := ParseProxies(strings.Split(trusted, " "))
			if err != nil {
				return
			}
			pfx = p
		}
		got := forwardedClient(peer, []string{xff}, pfx)
		if got == peer {
			return
		}
		if _, err := netip.ParseAddr(got); err != nil {
			t.Fatalf("forwardedClient(%q, %q) = %q: not the peer nor an address", peer, xff, got)
		}
	})
}

// FuzzValidatedBody runs arbitrary bodies through the body limit, the depth check and the
// OpenAPI validator on the unauthenticated login route: never a 5xx, never a panic.
func FuzzValidatedBody(f *testing.F) {
	doc, err := LoadSpec(context.Background())
	if err != nil {
		f.Fatal(err)
	}
	h := &Handler{Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	mw, err := validator(doc, h)
	if err != nil {
		f.Fatal(err)
	}
	reached := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	handler := limitBody(64 << 10)(mw(reached))
	for _, s := range []string{`{"email":"a@b.c","password":"x"}`, `{"email":[[[[]]]]}`, `{"email":{"a":1},"password":null}`,
		`{`, `[]`, `"x"`, `{"email":"` + strings.Repeat("a", 5000) + `"}`, strings.Repeat("[", 3000)} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`email=a`), "application/x-www-form-urlencoded")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		r := httptest.NewRequest("POST", "/api/v1/auth/login", strings.NewReader(string(body)))
		r.Header.Set("Content-Type", ctype)
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("body %.80q (%s): status %d %s", body, ctype, w.Code, w.Body.String())
		}
		if w.Body.Len() > 16<<10 {
			t.Fatalf("error body of %d bytes for a %d-byte request", w.Body.Len(), len(body))
		}
	})
}
