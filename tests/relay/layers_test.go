package relay_test

import (
	"slices"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/tests/clustertest"
)

// Acceptance 2: a simulcast publisher on the origin, one student on each of two relay
// nodes. The student on B asks for LOW, the one on C for HIGH: each gets its layer, and
// each relay node pulls only that layer over its link. When C's student switches to LOW,
// C stops pulling HIGH (after the dynacast pause), so the origin no longer sends it there.
func TestRelayPullsOnlyWantedLayers(t *testing.T) {
	tc := startCluster(t, 3, 1) // one participant per node: the students land on B and C
	url := tc.GatewayURL()
	teacher := connect(t, url, tc.Token("layers", "teacher"), "teacher")
	teacher.publish(t)
	low := connect(t, url, tc.Token("layers", "low"), "low")
	high := connect(t, url, tc.Token("layers", "high"), "high")
	if low.node() == teacher.node() || high.node() == teacher.node() || low.node() == high.node() {
		t.Fatalf("nodes: teacher %s, low %s, high %s; want three different", teacher.node(), low.node(), high.node())
	}
	nodeLow, nodeHigh := tc.Node(low.node()), tc.Node(high.node())
	var videoSID string
	for _, c := range []*client{low, high} {
		clustertest.WaitFor(t, 15*time.Second, c.identity+" to subscribe to the camera", func() bool {
			return c.publication(lksdk.TrackKindVideo) != nil
		})
		videoSID = c.publication(lksdk.TrackKindVideo).SID()
	}
	if err := low.publication(lksdk.TrackKindVideo).SetVideoQuality(livekit.VideoQuality_LOW); err != nil {
		t.Fatal(err)
	}
	if err := high.publication(lksdk.TrackKindVideo).SetVideoQuality(livekit.VideoQuality_HIGH); err != nil {
		t.Fatal(err)
	}
	pulls := func(n interface{ RelayPulls() map[string][]int }) []int { return n.RelayPulls()[videoSID] }
	clustertest.WaitFor(t, 10*time.Second, "B to pull LOW only and C HIGH only", func() bool {
		return slices.Equal(pulls(nodeLow), []int{0}) && slices.Equal(pulls(nodeHigh), []int{2})
	})
	// Each student receives its layer (the synthetic frames carry their layer).
	lowBase, highBase := low.layerCount(0), high.layerCount(2)
	clustertest.WaitFor(t, 10*time.Second, "LOW on B and HIGH on C", func() bool {
		return low.layerCount(0) > lowBase+30 && high.layerCount(2) > highBase+30
	})
	if n := low.layerCount(2); n > 0 {
		t.Logf("the LOW student saw %d HIGH packets (before its setting applied)", n)
	}

	// Nobody on C wants HIGH any more: C pulls LOW instead, HIGH stops crossing.
	if err := high.publication(lksdk.TrackKindVideo).SetVideoQuality(livekit.VideoQuality_LOW); err != nil {
		t.Fatal(err)
	}
	clustertest.WaitFor(t, 10*time.Second, "C to stop pulling HIGH", func() bool {
		return slices.Equal(pulls(nodeHigh), []int{0})
	})
	origin := tc.Node(teacher.node())
	clustertest.WaitFor(t, 5*time.Second, "the origin to send 2 streams of the camera plus 2 of audio", func() bool {
		return gauge(t, origin.Registry(), "atrium_relay_streams_out") == 4
	})
	base := high.layerCount(0)
	clustertest.WaitFor(t, 10*time.Second, "C's student to receive LOW", func() bool { return high.layerCount(0) > base+30 })
	// And when the C student leaves, C pulls nothing (the room there empties).
	high.close()
	clustertest.WaitFor(t, 10*time.Second, "C to pull nothing", func() bool { return len(pulls(nodeHigh)) == 0 })
	clustertest.WaitFor(t, 5*time.Second, "the origin to send only B's 2 streams", func() bool {
		return gauge(t, origin.Registry(), "atrium_relay_streams_out") == 2
	})
	// The relay room on C closes after the empty timeout (the origin's participants, which
	// C mirrors, do not keep it open), while B's and the origin's go on.
	clustertest.WaitFor(t, 10*time.Second, "the room on C to close", func() bool {
		return gauge(t, nodeHigh.Registry(), "atrium_sfu_rooms") == 0
	})
	if gauge(t, nodeLow.Registry(), "atrium_sfu_rooms") != 1 || gauge(t, origin.Registry(), "atrium_sfu_rooms") != 1 {
		t.Errorf("rooms on B and the origin closed too")
	}
}
