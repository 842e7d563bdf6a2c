package sfu_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

func presetServer(t *testing.T) *sfutest.Server {
	return sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.Room.Presets = map[string]sfu.RoomPreset{
			"recordable": {EnabledCodecs: []string{"audio/opus", "video/H264"}, MaxParticipants: 2},
		}
	}))
}

func codecMimes(cs []*livekit.Codec) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.Mime)
	}
	return out
}

// CreateRoom's options (preset, max participants, empty timeout, metadata) apply to the
// room it starts: the codecs are the preset's, a third participant is refused.
func TestCreateRoomOptions(t *testing.T) {
	srv := presetServer(t)
	api := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())
	ctx := context.Background()
	r, err := api.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "rec", RoomPreset: "recordable", EmptyTimeout: 42, Metadata: "m"})
	if err != nil {
		t.Fatal(err)
	}
	if got := codecMimes(r.EnabledCodecs); len(got) != 2 || got[1] != "video/H264" || r.EmptyTimeout != 42 || r.MaxParticipants != 2 || r.Metadata != "m" {
		t.Errorf("room = codecs %v, empty_timeout %d, max %d, metadata %q", got, r.EmptyTimeout, r.MaxParticipants, r.Metadata)
	}
	_, err = api.CreateRoom(ctx, &livekit.CreateRoomRequest{Name: "other", RoomPreset: "nope"})
	var te twirp.Error
	if !errors.As(err, &te) || te.Code() != twirp.InvalidArgument {
		t.Errorf("unknown preset: %v, want invalid_argument", err)
	}
	a, err := tryJoin(srv, "rec", "a", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Disconnect()
	b, err := tryJoin(srv, "rec", "b", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Disconnect()
	if c, err := tryJoin(srv, "rec", "c", nil, false); err == nil {
		c.Disconnect()
		t.Errorf("third participant joined a room of max 2")
	}
}

// A token's roomPreset starts the room with the preset: publishers are offered only its
// codecs, and a VP8 track is not accepted in an H.264 room.
func TestTokenRoomPresetLimitsCodecs(t *testing.T) {
	srv := presetServer(t)
	room, err := tryJoin(srv, "rec2", "teacher", nil, false, sfutest.RoomPreset("recordable"))
	if err != nil {
		t.Fatal(err)
	}
	defer room.Disconnect()
	api := lksdk.NewRoomServiceClient(srv.HTTPURL(), srv.APIKey(), srv.APISecret())
	rooms, err := api.ListRooms(context.Background(), &livekit.ListRoomsRequest{Names: []string{"rec2"}})
	if err != nil || len(rooms.Rooms) != 1 {
		t.Fatalf("ListRooms = %v, %v", rooms, err)
	}
	if got := codecMimes(rooms.Rooms[0].EnabledCodecs); len(got) != 2 {
		t.Errorf("room started by a recordable token has codecs %v", got)
	}
	track, err := lksdk.NewLocalSampleTrack(vp8Cap)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "cam"})
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil {
			// The SDK may report success before negotiation; the track must not reach
			// the room as a VP8 track then.
			time.Sleep(500 * time.Millisecond)
			ps, _ := api.ListParticipants(context.Background(), &livekit.ListParticipantsRequest{Room: "rec2"})
			for _, p := range ps.GetParticipants() {
				for _, tr := range p.Tracks {
					if tr.MimeType == "video/VP8" {
						t.Errorf("a VP8 track was published in an H.264-only room: %v", tr)
					}
				}
			}
		}
	case <-time.After(15 * time.Second):
	}
	// An H.264 track is fine.
	h264, err := lksdk.NewLocalSampleTrack(h264Cap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := room.LocalParticipant.PublishTrack(h264, &lksdk.TrackPublicationOptions{Name: "cam264"}); err != nil {
		t.Errorf("H.264 publish in an H.264 room: %v", err)
	}
}
