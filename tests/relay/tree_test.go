package relay_test

import (
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// startTreeCluster starts n in-process nodes with relaying on, one participant of a room
// per node and relay.max_fanout = fanout.
func startTreeCluster(t *testing.T, n, fanout int) *clustertest.Cluster {
	sfutest.QuietSDK()
	return clustertest.Start(t, clustertest.Options{Nodes: n, Configure: func(_ int, c *sfu.Config) {
		c.Relay.Addr = "127.0.0.1:0"
		c.Relay.ParticipantsPerNode = 1
		// No node is killed in these tests: the lan preset's failure detector (~6 s) does not
		// declare a node starved by a loaded machine (or the race detector) dead, as the
		// local one (~1.3 s) can.
		c.Cluster.Preset = "lan"
		c.Relay.MaxFanout = fanout
		c.Room.DynacastPauseDelay = 300 * time.Millisecond
		c.Room.EmptyTimeout = 2 * time.Second
	}})
}

// treeLecture connects a publishing teacher and one student per relay node (students
// join one by one, so the relay nodes attach in node order) and waits for every student's
// media.
func treeLecture(t *testing.T, url string, token func(room, id string) string, students int) (*client, []*client) {
	t.Helper()
	teacher := connect(t, url, token("tree", "teacher"), "teacher")
	teacher.publish(t)
	var out []*client
	seen := map[string]bool{teacher.node(): true}
	for i := 0; i < students; i++ {
		id := fmt.Sprintf("student-%d", i)
		s := connect(t, url, token("tree", id), id)
		if seen[s.node()] {
			t.Fatalf("%s placed on %s, which already has a participant of the room", id, s.node())
		}
		seen[s.node()] = true
		out = append(out, s)
	}
	for _, s := range out {
		clustertest.WaitFor(t, 30*time.Second, s.identity+" on "+s.node()+" to receive audio and video", func() bool {
			return s.count(webrtc.RTPCodecTypeAudio) > 20 && s.count(webrtc.RTPCodecTypeVideo) > 20
		})
	}
	return teacher, out
}

// Trees: with relay.max_fanout 1 the relay nodes of a room form a chain in the order they
// attached: the origin A feeds B, B feeds C, C feeds D. The student on D, three hops from
// the teacher's node, gets audio and video, and each node sends each track to one node
// only (the origin does not send to C or D). When the middle node C leaves the room (its
// only student leaves, so its relay room closes and detaches), the origin rebuilds the
// tree (D now pulls from B) and the student on D keeps receiving, video included (it
// resumes at a keyframe).
func TestRelayTreeChain(t *testing.T) {
	tc := startTreeCluster(t, 4, 1)
	teacher, students := treeLecture(t, tc.GatewayURL(), func(room, id string) string { return tc.Token(room, id) }, 3)
	a := teacher.node()
	b, c, d := students[0].node(), students[1].node(), students[2].node()
	origin := tc.Node(a)
	want := map[string]string{b: a, c: b, d: c}
	clustertest.WaitFor(t, 10*time.Second, "the origin's tree to be a chain", func() bool {
		return maps.Equal(origin.RelayFeeds("tree"), want)
	})
	for _, n := range []string{b, c, d} {
		if got := tc.Node(n).RelayFeeds("tree")[n]; got != want[n] {
			t.Errorf("%s pulls from %q, want %s", n, got, want[n])
		}
	}
	// Audio and the one video layer the students ask for cross each hop once.
	for _, x := range []struct {
		node    string
		in, out float64
	}{{a, 0, 2}, {b, 2, 2}, {c, 2, 2}, {d, 2, 0}} {
		clustertest.WaitFor(t, 10*time.Second, fmt.Sprintf("%s to receive %.0f and send %.0f streams", x.node, x.in, x.out), func() bool {
			reg := tc.Node(x.node).Registry()
			return gauge(t, reg, "atrium_relay_streams_in") == x.in && gauge(t, reg, "atrium_relay_streams_out") == x.out
		})
	}

	// C leaves the tree.
	students[1].close()
	want = map[string]string{b: a, d: b}
	clustertest.WaitFor(t, 15*time.Second, "the origin to rebuild the tree without "+c, func() bool {
		return maps.Equal(origin.RelayFeeds("tree"), want)
	})
	far := students[2]
	audio, video := far.count(webrtc.RTPCodecTypeAudio), far.count(webrtc.RTPCodecTypeVideo)
	clustertest.WaitFor(t, 15*time.Second, far.identity+" on "+d+" to receive audio and video through "+b, func() bool {
		return far.count(webrtc.RTPCodecTypeAudio) > audio+50 && far.count(webrtc.RTPCodecTypeVideo) > video+20
	})
	clustertest.WaitFor(t, 10*time.Second, b+" to send to "+d+" and "+d+" to pull from it", func() bool {
		return gauge(t, tc.Node(b).Registry(), "atrium_relay_streams_out") == 2 &&
			gauge(t, tc.Node(d).Registry(), "atrium_relay_streams_in") == 2 &&
			tc.Node(d).RelayFeeds("tree")[d] == b
	})
}

// Fan-out 2 over four nodes: the origin feeds the first two relay nodes, the third hangs
// under the first (a second hop).
func TestRelayTreeFanout2(t *testing.T) {
	tc := startTreeCluster(t, 4, 2)
	teacher, students := treeLecture(t, tc.GatewayURL(), func(room, id string) string { return tc.Token(room, id) }, 3)
	a := teacher.node()
	b, c, d := students[0].node(), students[1].node(), students[2].node()
	want := map[string]string{b: a, c: a, d: b}
	clustertest.WaitFor(t, 10*time.Second, "the origin's tree", func() bool {
		return maps.Equal(tc.Node(a).RelayFeeds("tree"), want)
	})
	for _, x := range []struct {
		node    string
		in, out float64
	}{{a, 0, 4}, {b, 2, 2}, {c, 2, 0}, {d, 2, 0}} {
		clustertest.WaitFor(t, 10*time.Second, fmt.Sprintf("%s to receive %.0f and send %.0f streams", x.node, x.in, x.out), func() bool {
			reg := tc.Node(x.node).Registry()
			return gauge(t, reg, "atrium_relay_streams_in") == x.in && gauge(t, reg, "atrium_relay_streams_out") == x.out
		})
	}
}

// The middle node of a chain (fan-out 1) is killed with SIGKILL: the origin sees its link
// break and rebuilds the tree, and the student on the last node, which lost its feed but
// not its own node, has media again through the first relay node without reconnecting.
func TestRelayTreeMiddleKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	skipUnderRace(t)
	sfutest.QuietSDK()
	env := maps.Clone(relayEnv)
	env["ATRIUM_SFU_RELAY_PARTICIPANTS_PER_NODE"] = "1"
	env["ATRIUM_SFU_RELAY_MAX_FANOUT"] = "1"
	pc := clustertest.StartProcCluster(t, 4, env)
	url := "ws" + pc.Gateway.HTTP[len("http"):]
	_, students := treeLecture(t, url, func(room, id string) string {
		return sfutest.TokenFor("devkey", "secret", room, id)
	}, 3)
	middle, far := students[1].node(), students[2]
	home := far.node()
	for _, p := range pc.Nodes {
		if p.Name != middle {
			continue
		}
		audio, video := far.count(webrtc.RTPCodecTypeAudio), far.count(webrtc.RTPCodecTypeVideo)
		killed := time.Now()
		p.Kill()
		clustertest.WaitFor(t, 20*time.Second, far.identity+" on "+home+" to receive audio and video again", func() bool {
			return far.count(webrtc.RTPCodecTypeAudio) > audio+50 && far.count(webrtc.RTPCodecTypeVideo) > video+20
		})
		t.Logf("%s killed: %s has audio and video again %s later", middle, far.identity, time.Since(killed).Round(time.Millisecond))
	}
	if far.node() != home {
		t.Errorf("%s moved from %s to %s: its node lived, only its feed died", far.identity, home, far.node())
	}
}
