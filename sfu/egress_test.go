package sfu_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// The node serves LiveKit's Egress API when egress.redis_addr is set (the recorders' job
// store, pkg/egress): server-sdk-go's EgressClient lists through it, and a token without the
// roomRecord grant is refused. (Recording itself is tested in recorder/.)
func TestEgressAPIMounted(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Egress.RedisAddr = "127.0.0.1:6379" // scripts/services.sh
		c.Egress.KeyPrefix = fmt.Sprintf("test:egress:%d", time.Now().UnixNano())
	}))
	ec := lksdk.NewEgressClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())
	res, err := ec.ListEgress(context.Background(), &livekit.ListEgressRequest{RoomName: "nothing-here"})
	if err != nil {
		t.Fatalf("ListEgress through the SFU: %v", err)
	}
	if len(res.Items) != 0 {
		t.Errorf("ListEgress = %v, want none", res.Items)
	}
	// No egress API without the setting: 404 from the mux, not a Twirp answer.
	plain := sfutest.Serve(t)
	_, err = lksdk.NewEgressClient(plain.HTTPURL(), plain.APIKey(), plain.APISecret()).
		ListEgress(context.Background(), &livekit.ListEgressRequest{})
	var te twirp.Error
	if err == nil || (errors.As(err, &te) && te.Code() != twirp.BadRoute && te.Code() != twirp.NotFound && te.Code() != twirp.Internal && te.Code() != twirp.Unimplemented) {
		t.Errorf("ListEgress on a node without egress settings: %v, want a not-found error", err)
	}
}

// TestEgressAPIChecksTokenRoom: through a node, a token whose roomRecord grant names one
// room cannot start, stop or list another room's egress (permission_denied), while it
// still starts its own.
func TestEgressAPIChecksTokenRoom(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Egress.RedisAddr = "127.0.0.1:6379" // scripts/services.sh
		c.Egress.KeyPrefix = fmt.Sprintf("test:egress:%d", time.Now().UnixNano())
	}))
	ctx := context.Background()
	cl := livekit.NewEgressProtobufClient(srv.HTTPURL(), &http.Client{Timeout: 10 * time.Second})
	as := func(room string) context.Context {
		tok, err := auth.NewAccessToken(srv.APIKey(), srv.APISecret()).SetValidFor(time.Minute).
			SetVideoGrant(&auth.VideoGrant{RoomRecord: true, Room: room}).ToJWT()
		if err != nil {
			t.Fatal(err)
		}
		c, err := twirp.WithHTTPRequestHeaders(ctx, http.Header{"Authorization": {"Bearer " + tok}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	hls := []*livekit.SegmentedFileOutput{{FilenamePrefix: "c/1"}}
	victim, err := cl.StartRoomCompositeEgress(as("victim"), &livekit.RoomCompositeEgressRequest{RoomName: "victim", SegmentOutputs: hls})
	if err != nil {
		t.Fatalf("starting the victim room's egress with its own token: %v", err)
	}
	forged := as("attacker")
	code := func(err error) twirp.ErrorCode {
		var te twirp.Error
		if errors.As(err, &te) {
			return te.Code()
		}
		return ""
	}
	if _, err := cl.StartRoomCompositeEgress(forged, &livekit.RoomCompositeEgressRequest{RoomName: "victim", SegmentOutputs: hls}); code(err) != twirp.PermissionDenied {
		t.Errorf("StartRoomCompositeEgress(victim) with an attacker-room token = %v, want permission_denied", err)
	}
	if _, err := cl.StopEgress(forged, &livekit.StopEgressRequest{EgressId: victim.EgressId}); code(err) != twirp.PermissionDenied {
		t.Errorf("StopEgress(victim's) with an attacker-room token = %v, want permission_denied", err)
	}
	if _, err := cl.ListEgress(forged, &livekit.ListEgressRequest{RoomName: "victim"}); code(err) != twirp.PermissionDenied {
		t.Errorf("ListEgress(victim) with an attacker-room token = %v, want permission_denied", err)
	}
	if _, err := cl.StopEgress(as("victim"), &livekit.StopEgressRequest{EgressId: victim.EgressId}); err != nil {
		t.Errorf("StopEgress with the victim room's own token: %v", err)
	}
}

// While a recorder (a participant with the recorder grant) is in a room, the room's
// active_recording flag is set, so SDK-built clients show their recording indicator: a
// participant already in the room learns it from room_update, one joining later from its
// JoinResponse, and both see it cleared when the recorder leaves.
func TestActiveRecordingWhileRecorderPresent(t *testing.T) {
	srv := sfutest.Serve(t)
	alice := join(t, srv, "rec", "alice", nil)
	if alice.IsRecording() {
		t.Fatal("a room nobody records reports active_recording")
	}
	recorder, err := tryJoin(srv, "rec", "recorder", nil, true,
		sfutest.Hidden(), sfutest.Grant(func(g *auth.VideoGrant) { g.Recorder = true }))
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "alice's room_update with active_recording", alice.IsRecording)
	bob := join(t, srv, "rec", "bob", nil)
	if !bob.IsRecording() {
		t.Error("a participant joining a recorded room gets active_recording = false in its JoinResponse")
	}
	recorder.Disconnect()
	eventually(t, 5*time.Second, "active_recording cleared after the recorder left",
		func() bool { return !alice.IsRecording() && !bob.IsRecording() })
}
