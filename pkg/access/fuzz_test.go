package access

import (
	"errors"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
)

// FuzzVerify: access tokens arrive from anyone (query string or header). Verify never
// panics, every failure wraps ErrUnauthorized, and a token passes only when it is signed
// with a known key.
func FuzzVerify(f *testing.F) {
	keys := Keys{"devkey": "fuzz-secret-0123456789abcdef-0123456789"}
	good, err := NewToken{APIKey: "devkey", APISecret: keys["devkey"], Room: "r", Identity: "i", TTL: time.Hour}.Mint()
	if err != nil {
		f.Fatal(err)
	}
	other, _ := NewToken{APIKey: "devkey", APISecret: "another-secret-0123456789abcdef-01234", Room: "r", Identity: "i"}.Mint()
	for _, s := range []string{good, other, "", "a.b.c", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJkZXZrZXkifQ.", good[:len(good)-3]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		g, err := Verify(token, keys)
		if err != nil {
			if !errors.Is(err, ErrUnauthorized) {
				t.Fatalf("Verify error %v does not wrap ErrUnauthorized", err)
			}
			return
		}
		if g == nil {
			t.Fatal("Verify returned nil grants and no error")
		}
		v, err := auth.ParseAPIToken(token)
		if err != nil || v.APIKey() != "devkey" {
			t.Fatalf("a token with key %q verified", v.APIKey())
		}
		_, _ = CheckJoin(g)
	})
}

// FuzzParseJoinParams: the /rtc query string is client-written.
func FuzzParseJoinParams(f *testing.F) {
	for _, q := range []string{"access_token=x&protocol=15&sdk=js&auto_subscribe=1", "protocol=-1", "protocol=99999999999999",
		"reconnect=maybe", "adaptive_stream=true&sid=PA_x&reconnect=1", "%zz", ""} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		r := &http.Request{Method: "GET", URL: &url.URL{Path: "/rtc", RawQuery: q}, Header: http.Header{}}
		_, _ = ParseJoinParams(r)
		_ = TokenFromRequest(r)
	})
}
