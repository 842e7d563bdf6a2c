package access

import (
	"errors"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
)

func TestVerifyAndCheckJoin(t *testing.T) {
	keys := Keys{"k1": "secret-one", "k2": "secret-two"}
	mint := func(key, secret string, g *auth.VideoGrant, identity string) string {
		tok, err := NewToken{APIKey: key, APISecret: secret, Identity: identity, Room: "r", Grant: g}.Mint()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name  string
		token string
		room  string
		err   error
	}{
		{"valid", mint("k1", "secret-one", nil, "alice"), "r", nil},
		{"second key", mint("k2", "secret-two", nil, "alice"), "r", nil},
		{"forged", mint("k1", "wrong", nil, "alice"), "", ErrUnauthorized},
		{"unknown key", mint("k3", "secret-one", nil, "alice"), "", ErrUnauthorized},
		{"no join grant", mint("k1", "secret-one", &auth.VideoGrant{Room: "r"}, "alice"), "", ErrUnauthorized},
		{"no identity", mint("k1", "secret-one", nil, ""), "", ErrUnauthorized},
		{"empty", "", "", ErrUnauthorized},
		{"garbage", "a.b.c", "", ErrUnauthorized},
	}
	for _, tc := range tests {
		g, err := Verify(tc.token, keys)
		var room string
		if err == nil {
			room, err = CheckJoin(g)
		}
		if !errors.Is(err, tc.err) || room != tc.room {
			t.Errorf("%s: room %q err %v, want room %q err %v", tc.name, room, err, tc.room, tc.err)
		}
	}
}

func TestTokenFromRequest(t *testing.T) {
	r := httptest.NewRequest("GET", "/rtc?access_token=q", nil)
	r.Header.Set("Authorization", "Bearer h")
	if got := TokenFromRequest(r); got != "q" {
		t.Errorf("TokenFromRequest = %q, want the query token", got)
	}
	r = httptest.NewRequest("GET", "/rtc", nil)
	r.Header.Set("Authorization", "Bearer h")
	if got := TokenFromRequest(r); got != "h" {
		t.Errorf("TokenFromRequest = %q, want the bearer token", got)
	}
}

func TestParseJoinParams(t *testing.T) {
	tests := []struct {
		query string
		want  JoinParams
		err   bool
	}{
		{"", JoinParams{AutoSubscribe: true}, false},
		{"auto_subscribe=0&protocol=16&sdk=js&version=2.1", JoinParams{Protocol: 16, SDK: "js", SDKVersion: "2.1"}, false},
		{"auto_subscribe=1&reconnect=1&sid=PA_x", JoinParams{AutoSubscribe: true, Reconnect: true, ParticipantSID: "PA_x"}, false},
		{"auto_subscribe=maybe", JoinParams{}, true},
		{"protocol=-1", JoinParams{}, true},
	}
	for _, tc := range tests {
		got, err := ParseJoinParams(httptest.NewRequest("GET", "/rtc?"+tc.query, nil))
		if (err != nil) != tc.err || (!tc.err && got != tc.want) {
			t.Errorf("ParseJoinParams(%q) = %+v, %v; want %+v, error %v", tc.query, got, err, tc.want, tc.err)
		}
		if err != nil && !errors.Is(err, ErrBadRequest) {
			t.Errorf("ParseJoinParams(%q) error %v does not wrap ErrBadRequest", tc.query, err)
		}
	}
}

func TestMintDefaultTTL(t *testing.T) {
	tok, err := NewToken{APIKey: "k", APISecret: "s", Room: "r", Identity: "i"}.Mint()
	if err != nil {
		t.Fatal(err)
	}
	v, _ := auth.ParseAPIToken(tok)
	claims, grants, err := v.Verify("s")
	if err != nil || grants.Video.Room != "r" || !grants.Video.RoomJoin {
		t.Fatalf("minted token: %v %v", grants, err)
	}
	if d := time.Until(claims.ExpiresAt.Time); d < 5*time.Hour || d > 7*time.Hour {
		t.Errorf("default TTL = %s, want about 6h", d)
	}
}
