package main

import (
	"io"
	"strings"
	"testing"

	"github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/sfu"
)

func TestTokenCreate(t *testing.T) {
	tok, err := tokenCreate([]string{"create", "--room", "demo", "--identity", "bob", "--publish=false", "--ttl", "1h", "--name", "Bob"}, io.Discard)
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	v, err := auth.ParseAPIToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	_, g, err := v.Verify(sfu.DevAPISecret)
	if err != nil || v.APIKey() != sfu.DevAPIKey {
		t.Fatalf("token not signed by the dev key: key %q err %v", v.APIKey(), err)
	}
	if g.Identity != "bob" || g.Name != "Bob" || g.Video.Room != "demo" || !g.Video.RoomJoin || g.Video.GetCanPublish() || !g.Video.GetCanSubscribe() {
		t.Errorf("grants = %+v / %+v", g, g.Video)
	}

	tok, err = tokenCreate([]string{"create", "--room", "r", "--identity", "i", "--api-key", "k", "--api-secret", "s"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	v, _ = auth.ParseAPIToken(tok)
	if _, _, err := v.Verify("s"); err != nil || v.APIKey() != "k" {
		t.Errorf("explicit key: key %q err %v", v.APIKey(), err)
	}

	tok, err = tokenCreate([]string{"create", "--operator", "--identity", "ops"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	v, _ = auth.ParseAPIToken(tok)
	if _, g, err := v.Verify(sfu.DevAPISecret); err != nil || !g.Video.RoomCreate || !g.Video.RoomList || g.Video.RoomJoin || g.Video.Room != "" {
		t.Errorf("operator token: %+v, %v; want roomCreate+roomList and no room", g.Video, err)
	}

	for _, args := range [][]string{nil, {"create", "--identity", "i"}, {"mint"}, {"create", "--room", "r"}, {"create", "--room", "r", "--identity", "i", "--ttl", "-1s"}} {
		if _, err := tokenCreate(args, io.Discard); err == nil {
			t.Errorf("token %s: no error", strings.Join(args, " "))
		}
	}
}
