package browser

import (
	"os"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// target is the LiveKit-compatible server a browser test joins.
type target struct {
	url   string                                           // ws://host:port, as given to Room.connect
	token func(t *testing.T, room, identity string) string // a join token with publish, subscribe and data grants
	// external is set for a server named by ATRIUM_BROWSER_SFU_URL: its configuration (such as
	// room.dynacast_pause_delay) is not the one the test asked for.
	external bool
}

// startTarget returns the server under test: Atrium's SFU started in-process on 127.0.0.1 with
// port 0 (stopped in t.Cleanup). With ATRIUM_BROWSER_SFU_URL set, it returns that server instead
// (on loopback; key and secret from ATRIUM_BROWSER_API_KEY and ATRIUM_BROWSER_API_SECRET,
// default devkey/secret), so the same scenarios can be run against a LiveKit server to tell an
// Atrium bug from a harness bug; opts then do not apply.
func startTarget(t *testing.T, opts ...sfutest.Option) target {
	t.Helper()
	if u := os.Getenv("ATRIUM_BROWSER_SFU_URL"); u != "" {
		key, secret := os.Getenv("ATRIUM_BROWSER_API_KEY"), os.Getenv("ATRIUM_BROWSER_API_SECRET")
		if key == "" {
			key, secret = "devkey", "secret"
		}
		t.Logf("using external server %s", u)
		return target{url: u, external: true, token: func(t *testing.T, room, identity string) string {
			return mintToken(t, key, secret, room, identity)
		}}
	}
	return startSFU(t, opts...)
}

// mintToken signs a join token for identity in room with the publish, subscribe and data
// grants every scenario needs.
func mintToken(t *testing.T, key, secret, room, identity string) string {
	t.Helper()
	yes := true
	at := auth.NewAccessToken(key, secret).
		SetIdentity(identity).
		SetName(identity).
		SetValidFor(10 * time.Minute).
		SetVideoGrant(&auth.VideoGrant{
			RoomJoin:       true,
			Room:           room,
			CanPublish:     &yes,
			CanSubscribe:   &yes,
			CanPublishData: &yes,
		})
	tok, err := at.ToJWT()
	if err != nil {
		t.Fatalf("mint token for %s in %s: %v", identity, room, err)
	}
	return tok
}

// startSFU starts Atrium's SFU in-process (sfutest: 127.0.0.1, port 0, dev keys, loopback
// candidates). ATRIUM_TEST_LOG=debug copies its debug log into the test output.
func startSFU(t *testing.T, opts ...sfutest.Option) target {
	t.Helper()
	srv := sfutest.Serve(t, opts...)
	return target{
		url: srv.URL(),
		token: func(t *testing.T, room, identity string) string {
			return srv.Token(room, identity, sfutest.CanPublish(true), sfutest.CanSubscribe(true), sfutest.CanPublishData(true))
		},
	}
}
