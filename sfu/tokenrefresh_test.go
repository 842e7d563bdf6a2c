package sfu_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// Issue 17, finding 8: join tokens are short-lived, so connected participants get fresh
// ones over the signal connection (refresh_token, as LiveKit sends) to reconnect with.
func TestTokenRefresh(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Tokens = sfu.TokenConfig{RefreshInterval: 200 * time.Millisecond, TTL: 2 * time.Minute}
	}))
	tok := srv.Token("class", "alice", sfutest.TTL(time.Minute), sfutest.Name("Alice"),
		sfutest.Grant(func(g *auth.VideoGrant) { g.SetCanPublish(false) }))
	c, status, err := dialRaw(t, srv, tok)
	if err != nil {
		t.Fatalf("join: %d %v", status, err)
	}
	res := c.readUntil(5*time.Second, func(r *livekit.SignalResponse) bool { return r.GetRefreshToken() != "" })
	if res == nil {
		t.Fatal("no refresh_token within 5 s at a 200 ms interval")
	}
	fresh := res.GetRefreshToken()
	g, err := access.Verify(fresh, access.Keys{srv.APIKey(): srv.APISecret()})
	if err != nil {
		t.Fatalf("refreshed token does not verify: %v", err)
	}
	if g.Identity != "alice" || g.Name != "Alice" || g.Video == nil || !g.Video.RoomJoin || g.Video.Room != "class" || g.Video.GetCanPublish() {
		t.Errorf("refreshed grants = %+v video %+v, want alice/Alice joining class without publish", g, g.Video)
	}
	parsed, err := auth.ParseAPIToken(fresh)
	if err != nil {
		t.Fatal(err)
	}
	std, _, err := parsed.Verify(srv.APISecret())
	if err != nil {
		t.Fatal(err)
	}
	if exp := time.Until(std.ExpiresAt.Time); exp < 90*time.Second || exp > 2*time.Minute+5*time.Second {
		t.Errorf("refreshed token expires in %v, want the configured 2 min", exp)
	}
	// The refreshed token opens the room (as a reconnecting SDK would use it).
	if _, status, err := dialRaw(t, srv, fresh); err != nil {
		t.Fatalf("join with the refreshed token: %d %v", status, err)
	}
}
