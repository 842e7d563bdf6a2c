package sfu_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestRoomService drives the node with server-sdk-go's RoomServiceClient (Twirp), as the
// control plane would, and checks that roomAdmin is required.
func TestRoomService(t *testing.T) {
	srv := sfutest.Serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	api := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())

	if _, err := api.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "class", Metadata: `{"topic":"go"}`}); err != nil {
		t.Fatalf("CreateRoom: %v", err)
	}
	var bobIn inbox
	alice := join(t, srv, "class", "alice", nil)
	bobCB := bobIn.callback()
	removed := make(chan lksdk.DisconnectionReason, 1)
	bobCB.OnDisconnectedWithReason = func(r lksdk.DisconnectionReason) { removed <- r }
	bob := join(t, srv, "class", "bob", bobCB)
	if bob.Metadata() != `{"topic":"go"}` {
		t.Errorf("room metadata seen by bob = %q", bob.Metadata())
	}
	mic := publishSynth(t, alice, opusCap, "mic")
	eventually(t, 5*time.Second, "bob to see the mic", func() bool { return remotePub(bob, "alice", mic.pub.SID()) != nil })

	rooms, err := api.ListRooms(ctx, &livekit.ListRoomsRequest{})
	if err != nil || len(rooms.Rooms) != 1 || rooms.Rooms[0].Name != "class" || rooms.Rooms[0].NumParticipants != 2 {
		t.Fatalf("ListRooms = %v, %v; want class with 2 participants", rooms, err)
	}
	ps, err := api.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "class"})
	if err != nil || len(ps.Participants) != 2 {
		t.Fatalf("ListParticipants = %v, %v", ps, err)
	}
	if _, err := api.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: "class", Identity: "alice", TrackSid: mic.pub.SID(), Muted: true}); err != nil {
		t.Fatalf("MutePublishedTrack: %v", err)
	}
	eventually(t, 5*time.Second, "bob to see the mic muted", func() bool { return remotePub(bob, "alice", mic.pub.SID()).IsMuted() })

	if _, err := api.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: "class", Identity: "alice", Metadata: "presenter"}); err != nil {
		t.Fatalf("UpdateParticipant: %v", err)
	}
	eventually(t, 5*time.Second, "bob to see alice's new metadata", func() bool {
		p := bob.GetParticipantByIdentity("alice")
		return p != nil && p.Metadata() == "presenter"
	})

	if _, err := api.SendData(ctx, &livekit.SendDataRequest{Room: "class", Data: []byte("from-server"), Kind: livekit.DataPacket_RELIABLE, DestinationIdentities: []string{"bob"}}); err != nil {
		t.Fatalf("SendData: %v", err)
	}
	eventually(t, 5*time.Second, "bob to get the server's data", func() bool { return bobIn.has(":from-server") })

	if _, err := api.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "class", Identity: "bob"}); err != nil {
		t.Fatalf("RemoveParticipant: %v", err)
	}
	select {
	case r := <-removed:
		if r != lksdk.ParticipantRemoved {
			t.Errorf("bob disconnected with %q, want %q", r, lksdk.ParticipantRemoved)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("bob was not removed")
	}
	if _, err := api.DeleteRoom(ctx, &livekit.DeleteRoomRequest{Room: "class"}); err != nil {
		t.Fatalf("DeleteRoom: %v", err)
	}
	if rooms, _ := api.ListRooms(ctx, &livekit.ListRoomsRequest{}); len(rooms.GetRooms()) != 0 {
		t.Errorf("rooms after DeleteRoom: %v", rooms)
	}

	// A participant's own token (no roomAdmin) may not administer the room; no token at all
	// is unauthenticated.
	for _, tc := range []struct {
		token string
		want  int
	}{
		{srv.Token("class", "mallory"), http.StatusForbidden},
		{"", http.StatusUnauthorized},
	} {
		req, _ := http.NewRequest("POST", srv.HTTPURL()+"/twirp/livekit.RoomService/ListParticipants", strings.NewReader(`{"room":"class"}`))
		req.Header.Set("Content-Type", "application/json")
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("ListParticipants with token %.10q: status %d, want %d", tc.token, resp.StatusCode, tc.want)
		}
	}
}
