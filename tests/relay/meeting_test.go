package relay_test

import (
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/tests/clustertest"
)

// A publisher on a relay node (a meeting spread over nodes): its tracks go to the origin
// once, and from there to the other relay nodes; the origin's and the other relay node's
// participants receive them.
func TestPublisherOnRelayNode(t *testing.T) {
	tc := startCluster(t, 3, 1)
	url := tc.GatewayURL()
	host := connect(t, url, tc.Token("meeting", "host"), "host")
	speaker := connect(t, url, tc.Token("meeting", "speaker"), "speaker")
	listener := connect(t, url, tc.Token("meeting", "listener"), "listener")
	if host.node() == speaker.node() || speaker.node() == listener.node() || host.node() == listener.node() {
		t.Fatalf("nodes: host %s, speaker %s, listener %s; want three different", host.node(), speaker.node(), listener.node())
	}
	speaker.publish(t)
	for _, c := range []*client{host, listener} {
		clustertest.WaitFor(t, 15*time.Second, c.identity+" on "+c.node()+" to receive the speaker's audio and video", func() bool {
			return c.count(webrtc.RTPCodecTypeAudio) > 20 && c.count(webrtc.RTPCodecTypeVideo) > 20
		})
	}
	// The speaker's node sends its tracks to the origin only; the origin passes them on.
	sp, origin, ln := tc.Node(speaker.node()), tc.Node(host.node()), tc.Node(listener.node())
	for _, c := range []struct {
		name    string
		n       interface{ NodeID() string }
		in, out float64
	}{{"speaker's node", sp, 0, 2}, {"origin", origin, 2, 2}, {"listener's node", ln, 2, 0}} {
		node := tc.Node(c.n.NodeID())
		in, out := gauge(t, node.Registry(), "atrium_relay_streams_in"), gauge(t, node.Registry(), "atrium_relay_streams_out")
		if in != c.in || out != c.out {
			t.Errorf("%s %s: streams in %.0f out %.0f, want %.0f and %.0f", c.name, node.NodeID(), in, out, c.in, c.out)
		}
	}
}
