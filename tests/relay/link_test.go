package relay_test

import (
	"slices"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/tests/clustertest"
)

// A transient fault on a link (its TCP connection closed under both nodes, as a network
// fault would) costs nobody their connection: the link is redialled within the grace
// (3 s), the relay node attaches again, and the student on it keeps its session, its media
// and the room's data messages; the origin never sees it leave.
func TestRelayLinkRestored(t *testing.T) {
	tc := startCluster(t, 2, 1)
	url := tc.GatewayURL()
	teacher := connect(t, url, tc.Token("lecture", "teacher"), "teacher")
	teacher.publish(t)
	student := connect(t, url, tc.Token("lecture", "student"), "student")
	home := student.node()
	if home == teacher.node() {
		t.Fatalf("student and teacher both on %s", home)
	}
	clustertest.WaitFor(t, 20*time.Second, "the student to receive audio and video", func() bool {
		return student.count(webrtc.RTPCodecTypeAudio) > 20 && student.count(webrtc.RTPCodecTypeVideo) > 20
	})

	tc.Node(home).BreakRelayLinks()
	// Through the fault and the grace after it, the teacher keeps seeing the student and
	// the student the teacher.
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if !slices.Contains(teacher.others(), "student") || !slices.Contains(student.others(), "teacher") {
			t.Fatalf("a participant left during the link fault: teacher sees %v, student sees %v", teacher.others(), student.others())
		}
	}
	for _, n := range tc.Nodes {
		clustertest.WaitFor(t, 10*time.Second, n.NodeID()+" to have its link back", func() bool {
			return gauge(t, n.Registry(), "atrium_relay_links") == 1
		})
	}
	if student.node() != home || student.room.ConnectionState() != lksdk.ConnectionStateConnected {
		t.Errorf("student on %s in state %s, want still connected to %s", student.node(), student.room.ConnectionState(), home)
	}
	audio, video := student.count(webrtc.RTPCodecTypeAudio), student.count(webrtc.RTPCodecTypeVideo)
	clustertest.WaitFor(t, 10*time.Second, "the student's media to go on", func() bool {
		return student.count(webrtc.RTPCodecTypeAudio) > audio+50 && student.count(webrtc.RTPCodecTypeVideo) > video+20
	})
	if err := teacher.room.LocalParticipant.PublishData([]byte("after the fault"), lksdk.WithDataPublishReliable(true)); err != nil {
		t.Fatal(err)
	}
	if err := student.room.LocalParticipant.PublishData([]byte("raise-hand"), lksdk.WithDataPublishReliable(true)); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 10*time.Second, "data messages to cross the restored link both ways", func() bool {
		return student.got("after the fault") && teacher.got("raise-hand")
	})
}
