package relay_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/tests/clustertest"
)

// Acceptance 1: a lecture across three nodes. The teacher publishes (audio and simulcast
// video) on the origin A; with 10 participants of the room per node the students fill the
// origin (teacher and 9 students), then one relay node (10), then the other (10), and the
// last student finds every node full and stays on the origin: 10 students on each of A, B
// and C. Every student receives video and audio; each relay node receives each track over
// exactly one link however many students it serves (the relay metrics count streams); data
// messages reach everyone; every participant sees the same participant list.
//
// The clients are server-sdk-go participants (one pion PeerConnection each, no browser),
// joined one at a time so that placement is deterministic; every wait is generous, since
// the 2 shared cores run 31 clients and 3 nodes here. Under the race detector (ten times
// slower) the class is 4 per node, so that joins stay within the SDK's timeout; make
// test-go runs the full size.
func TestLectureAcrossThreeNodes(t *testing.T) {
	perNode := 10
	if raceEnabled {
		perNode = 4
	}
	tc := startCluster(t, 3, perNode)
	url := tc.GatewayURL()
	teacher := connect(t, url, tc.Token("lecture", "teacher"), "teacher")
	teacher.publish(t)
	origin := teacher.node()
	var students []*client
	for i := 0; i < 3*perNode; i++ {
		id := fmt.Sprintf("student-%02d", i)
		students = append(students, connect(t, url, tc.Token("lecture", id), id))
	}
	studentsOn := map[string]int{}
	for _, s := range students {
		studentsOn[s.node()]++
	}
	t.Logf("students per node: %v (teacher and origin %s)", studentsOn, origin)
	if len(studentsOn) != 3 {
		t.Fatalf("students on %d nodes, want 3: %v", len(studentsOn), studentsOn)
	}
	for n, c := range studentsOn {
		if c != perNode {
			t.Errorf("node %s serves %d students, want %d", n, c, perNode)
		}
	}
	if got := tc.Owner("lecture"); got != origin {
		t.Fatalf("room owner %s, teacher on %s", got, origin)
	}

	joined := time.Now()
	for _, s := range students {
		clustertest.WaitFor(t, 30*time.Second, s.identity+" on "+s.node()+" to receive audio and video", func() bool {
			return s.count(webrtc.RTPCodecTypeAudio) > 20 && s.count(webrtc.RTPCodecTypeVideo) > 20
		})
		t.Logf("%s on %s: audio and video after %s", s.identity, s.node(), time.Since(joined).Round(time.Millisecond))
	}

	// The relay rooms stay put across lease renewals (every second here): a relay node
	// holds no lease and must not take the room's for its own. 100 more audio packets at
	// 50 a second span two renewals.
	bases := make([]int, len(students))
	for i, s := range students {
		bases[i] = s.count(webrtc.RTPCodecTypeAudio)
	}
	for i, s := range students {
		clustertest.WaitFor(t, 10*time.Second, s.identity+" to keep receiving", func() bool {
			return s.count(webrtc.RTPCodecTypeAudio) > bases[i]+100
		})
	}
	for _, s := range students {
		if s.room.ConnectionState() != lksdk.ConnectionStateConnected {
			t.Errorf("%s: connection state %s after lease renewals", s.identity, s.room.ConnectionState())
		}
	}

	// One link per node pair, each track once over it: the origin sends 2 streams (audio,
	// the HIGH video layer the students default to) to each relay node, and each relay node
	// receives exactly those 2, for its students.
	for _, n := range tc.Nodes {
		in, out := gauge(t, n.Registry(), "atrium_relay_streams_in"), gauge(t, n.Registry(), "atrium_relay_streams_out")
		links := gauge(t, n.Registry(), "atrium_relay_links")
		t.Logf("%s: streams in %.0f, out %.0f, links %.0f, relay packets in %.0f out %.0f", n.NodeID(), in, out, links,
			gauge(t, n.Registry(), "atrium_relay_packets_in_total"), gauge(t, n.Registry(), "atrium_relay_packets_out_total"))
		if n.NodeID() == origin {
			if in != 0 || out != 4 || links != 2 {
				t.Errorf("origin %s: streams in %.0f out %.0f links %.0f, want 0, 4, 2", n.NodeID(), in, out, links)
			}
			continue
		}
		if in != 2 || out != 0 || links != 1 {
			t.Errorf("relay node %s: streams in %.0f out %.0f links %.0f, want 2, 0, 1", n.NodeID(), in, out, links)
		}
		pulls := n.RelayPulls()
		if len(pulls) != 2 {
			t.Errorf("relay node %s pulls %v, want the 2 tracks", n.NodeID(), pulls)
		}
	}

	// One room: everyone sees everyone else.
	all := []string{"teacher"}
	everyone := append([]*client{teacher}, students...)
	for _, s := range students {
		all = append(all, s.identity)
	}
	for _, c := range everyone {
		want := without(all, c.identity)
		clustertest.WaitFor(t, 10*time.Second, c.identity+" to see the whole room", func() bool {
			return slices.Equal(c.others(), want)
		})
	}

	// Active speakers are computed on the origin and reach the relay nodes; mute (a track
	// state in the participant info) too. The teacher mutes, stops being a speaker, unmutes
	// and speaks again: every student sees both.
	spokeBase := make([]int, len(students))
	for i, s := range students {
		_, spokeBase[i] = s.activeSpeaker("teacher")
	}
	teacher.mic.SetMuted(true)
	for _, s := range students {
		clustertest.WaitFor(t, 10*time.Second, s.identity+" to see the teacher muted and silent", func() bool {
			speaking, _ := s.activeSpeaker("teacher")
			pub := s.publication(lksdk.TrackKindAudio)
			return !speaking && pub != nil && pub.IsMuted()
		})
	}
	teacher.mic.SetMuted(false)
	for i, s := range students {
		clustertest.WaitFor(t, 10*time.Second, s.identity+" to see the teacher speaking again", func() bool {
			_, n := s.activeSpeaker("teacher")
			return n > spokeBase[i]
		})
	}

	// The RoomService (forwarded to the origin) sees the whole room, and its metadata and
	// server-sent data reach the relay nodes' participants.
	api := lksdk.NewRoomServiceClient(tc.GatewayHTTP(), "devkey", "secret")
	ctx := context.Background()
	list, err := api.ListParticipants(ctx, &livekit.ListParticipantsRequest{Room: "lecture"})
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, p := range list.Participants {
		listed = append(listed, p.Identity)
	}
	slices.Sort(listed)
	if want := without(all, ""); !slices.Equal(listed, want) {
		t.Errorf("ListParticipants = %v, want %v", listed, want)
	}
	if _, err := api.UpdateRoomMetadata(ctx, &livekit.UpdateRoomMetadataRequest{Room: "lecture", Metadata: "quiz at 10:30"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.SendData(ctx, &livekit.SendDataRequest{Room: "lecture", Data: []byte("from the server"), Kind: livekit.DataPacket_RELIABLE}); err != nil {
		t.Fatal(err)
	}
	for _, c := range everyone {
		clustertest.WaitFor(t, 10*time.Second, c.identity+" to get the room metadata and the server's message", func() bool {
			return c.room.Metadata() == "quiz at 10:30" && c.got("from the server")
		})
	}

	// Chat from the teacher (origin) and a raised hand from a student on a relay node
	// reach everyone else; a message to one identity on another relay node reaches only it.
	var far, farOther *client
	for _, s := range students {
		if s.node() != origin {
			if far == nil {
				far = s
			} else if farOther == nil && s.node() != far.node() {
				farOther = s
			}
		}
	}
	if err := teacher.room.LocalParticipant.PublishData([]byte("chat: welcome"), lksdk.WithDataPublishReliable(true)); err != nil {
		t.Fatal(err)
	}
	if err := far.room.LocalParticipant.PublishData([]byte("raise-hand"), lksdk.WithDataPublishReliable(true)); err != nil {
		t.Fatal(err)
	}
	if err := teacher.room.LocalParticipant.PublishData([]byte("private"), lksdk.WithDataPublishReliable(true),
		lksdk.WithDataPublishDestination([]string{farOther.identity})); err != nil {
		t.Fatal(err)
	}
	for _, c := range everyone {
		clustertest.WaitFor(t, 10*time.Second, c.identity+" to get the data messages", func() bool {
			return (c == teacher || c.got("chat: welcome")) && (c == far || c.got("raise-hand"))
		})
	}
	clustertest.WaitFor(t, 10*time.Second, "the private message to arrive", func() bool { return farOther.got("private") })
	for _, c := range everyone {
		if c != farOther && c.got("private") {
			t.Errorf("%s got a message addressed to %s", c.identity, farOther.identity)
		}
	}
}
