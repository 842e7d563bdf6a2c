package browser

import (
	"testing"
	"time"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// Issue 12, acceptance 4: one room across two nodes with livekit-client. With one
// participant of a room per node, page A lands on the room's origin and page B on another
// node (a relay node); each decodes the other's video, which crossed the relay link (B's
// as a publisher on a relay node).
func TestRoomAcrossNodesChromium(t *testing.T) {
	h := newHarness(t)
	tc := clustertest.Start(t, clustertest.Options{Nodes: 2, Configure: func(_ int, c *sfu.Config) {
		c.Relay.Addr = "127.0.0.1:0"
		c.Relay.ParticipantsPerNode = 1
		c.Room.DynacastPauseDelay = time.Second
	}})
	const room = "browser-relay"
	token := func(id string) string {
		return tc.Token(room, id, sfutest.CanPublish(true), sfutest.CanSubscribe(true), sfutest.CanPublishData(true))
	}
	var data clusterData
	h.run(t, runConfig{
		Scenario:  "cluster",
		Tokens:    map[string]string{"A": token("A"), "B": token("B")},
		URLs:      map[string]string{"A": tc.GatewayURL(), "B": tc.GatewayURL()},
		MinFrames: 20, WaitMs: 20_000, TimeoutMs: 60_000,
	}, &data)
	owner := tc.Owner(room)
	if data.NodeA == data.NodeB || (data.NodeA != owner && data.NodeB != owner) {
		t.Errorf("pages served by %q and %q, want one on the origin %q and one on the other node", data.NodeA, data.NodeB, owner)
	}
	if data.FirstFrameA < 0 || data.FirstFrameB < 0 {
		t.Errorf("pages did not decode each other across nodes: first frame A %v ms, B %v ms", data.FirstFrameA, data.FirstFrameB)
	}
	// Each node received the other page's media over the link (the pages have left by
	// now, so the cumulative counter is read).
	for _, n := range tc.Nodes {
		if in := metricValue(t, n, "atrium_relay_packets_in_total"); in < 100 {
			t.Errorf("%s received %v packets over the relay link, want the other page's media", n.NodeID(), in)
		}
	}
	t.Logf("pages on %s and %s (origin %s), first frames after %.0f / %.0f ms", data.NodeA, data.NodeB, owner, data.FirstFrameA, data.FirstFrameB)
}

func metricValue(t *testing.T, s *sfutest.Server, name string) float64 {
	t.Helper()
	mfs, err := s.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			v := 0.0
			for _, m := range mf.GetMetric() {
				v += m.GetGauge().GetValue() + m.GetCounter().GetValue()
			}
			return v
		}
	}
	return 0
}
