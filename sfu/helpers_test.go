package sfu_test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// join connects a real server-sdk-go client and disconnects it when the test ends.
func join(t *testing.T, srv *sfutest.Server, room, identity string, cb *lksdk.RoomCallback, opts ...sfutest.TokenOption) *lksdk.Room {
	t.Helper()
	r, err := tryJoin(srv, room, identity, cb, true, opts...)
	if err != nil {
		t.Fatalf("join %s/%s: %v", room, identity, err)
	}
	t.Cleanup(r.Disconnect)
	return r
}

func tryJoin(srv *sfutest.Server, room, identity string, cb *lksdk.RoomCallback, autoSubscribe bool, opts ...sfutest.TokenOption) (*lksdk.Room, error) {
	if cb == nil {
		cb = &lksdk.RoomCallback{}
	}
	return lksdk.ConnectToRoomWithToken(srv.URL(), srv.Token(room, identity, opts...), cb,
		lksdk.WithAutoSubscribe(autoSubscribe), lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(10*time.Second))
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// remotePub finds the publication sid of the remote participant identity, or nil.
func remotePub(r *lksdk.Room, identity, sid string) *lksdk.RemoteTrackPublication {
	rp := r.GetParticipantByIdentity(identity)
	if rp == nil {
		return nil
	}
	for _, tp := range rp.TrackPublications() {
		if p, ok := tp.(*lksdk.RemoteTrackPublication); ok && p.SID() == sid {
			return p
		}
	}
	return nil
}
