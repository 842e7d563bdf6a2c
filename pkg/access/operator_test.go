package access

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/livekit/protocol/auth"
)

func TestRequireOperator(t *testing.T) {
	keys := Keys{"k": "secret-key"}
	mint := func(secret string, g *auth.VideoGrant) string {
		tok, err := NewToken{APIKey: "k", APISecret: secret, Identity: "ops", Grant: g}.Mint()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, tc := range []struct {
		name  string
		token string
		code  int
	}{
		{"operator", mint("secret-key", &auth.VideoGrant{RoomCreate: true, RoomList: true}), http.StatusOK},
		{"list only", mint("secret-key", &auth.VideoGrant{RoomList: true}), http.StatusForbidden},
		{"join token", mint("secret-key", &auth.VideoGrant{RoomJoin: true, Room: "r"}), http.StatusForbidden},
		{"forged", mint("other", &auth.VideoGrant{RoomCreate: true, RoomList: true}), http.StatusUnauthorized},
		{"none", "", http.StatusUnauthorized},
	} {
		r := httptest.NewRequest(http.MethodGet, "/admin/cluster", nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		ok := RequireOperator(w, r, keys)
		if ok != (tc.code == http.StatusOK) || w.Code != tc.code {
			t.Errorf("%s: ok=%v code=%d, want code %d", tc.name, ok, w.Code, tc.code)
		}
	}
}
