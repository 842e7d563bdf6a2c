package sfu_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// twirpMethods are the RoomService methods a fuzzed body is sent to.
var twirpMethods = []string{"CreateRoom", "ListRooms", "DeleteRoom", "ListParticipants", "GetParticipant",
	"RemoveParticipant", "MutePublishedTrack", "UpdateParticipant", "UpdateSubscriptions", "SendData",
	"UpdateRoomMetadata", "NoSuchMethod"}

// FuzzTwirp sends arbitrary bodies, protobuf or JSON, to every RoomService method with an
// admin token and with a join token: the node never panics, never answers 5xx, and never
// reads a join token's body.
func FuzzTwirp(f *testing.F) {
	srv := sfutest.Serve(f, sfutest.WithConfig(func(c *sfu.Config) { c.Limits.MaxAPIBodyBytes = 64 << 10 }))
	h := sfu.HandlerForTest(srv.Server)
	admin := srv.Token("fuzz", "ops", sfutest.RoomAdmin(), sfutest.Grant(func(g *auth.VideoGrant) { g.RoomCreate, g.RoomList = true, true }))
	joiner := srv.Token("fuzz", "student")
	for i, m := range []proto.Message{
		&livekit.CreateRoomRequest{Name: "fuzz", Metadata: "m"},
		&livekit.UpdateParticipantRequest{Room: "fuzz", Identity: "x", Metadata: "m", Attributes: map[string]string{"a": "b"}},
		&livekit.SendDataRequest{Room: "fuzz", Data: []byte("hi"), DestinationIdentities: []string{"x"}},
		&livekit.UpdateRoomMetadataRequest{Room: "fuzz", Metadata: "m"},
	} {
		b, _ := proto.Marshal(m)
		f.Add(uint8(i), true, true, b)
		j, _ := protojson.Marshal(m)
		f.Add(uint8(i), false, true, j)
		f.Add(uint8(i), false, false, j)
	}
	f.Add(uint8(0), false, true, []byte(`{"name":`+string(bytes.Repeat([]byte("["), 5000))))
	f.Fuzz(func(t *testing.T, method uint8, binary, isAdmin bool, body []byte) {
		name := twirpMethods[int(method)%len(twirpMethods)]
		r := httptest.NewRequest("POST", "/twirp/livekit.RoomService/"+name, bytes.NewReader(body))
		if binary {
			r.Header.Set("Content-Type", "application/protobuf")
		} else {
			r.Header.Set("Content-Type", "application/json")
		}
		tok := joiner
		if isAdmin {
			tok = admin
		}
		r.Header.Set("Authorization", "Bearer "+tok)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code >= 500 {
			t.Fatalf("%s (%d bytes, binary=%v, admin=%v): status %d %s", name, len(body), binary, isAdmin, w.Code, w.Body.String())
		}
		if !isAdmin && w.Code != http.StatusForbidden {
			t.Fatalf("%s with a join token: status %d, want 403", name, w.Code)
		}
	})
}
