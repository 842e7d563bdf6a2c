package relay_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
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

	// The RoomService (served by the origin, reached through the gateway) acts on the
	// speaker, who is on a relay node: the origin sends each action there.
	api := lksdk.NewRoomServiceClient(tc.GatewayHTTP(), "devkey", "secret")
	ctx := context.Background()
	res, err := api.MutePublishedTrack(ctx, &livekit.MuteRoomTrackRequest{Room: "meeting", Identity: "speaker", TrackSid: speaker.mic.SID(), Muted: true})
	if err != nil {
		t.Fatalf("MutePublishedTrack: %v", err)
	}
	if res.Track.GetSid() != speaker.mic.SID() || !res.Track.GetMuted() {
		t.Errorf("MutePublishedTrack answered %v, want the speaker's microphone muted", res.Track)
	}
	clustertest.WaitFor(t, 10*time.Second, "the speaker's microphone muted for everyone, the speaker's SDK included", func() bool {
		if !speaker.mic.IsMuted() {
			return false
		}
		for _, c := range []*client{host, listener} {
			if pub := c.publication(lksdk.TrackKindAudio); pub == nil || !pub.IsMuted() {
				return false
			}
		}
		return true
	})
	info, err := api.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: "meeting", Identity: "speaker", Metadata: "hand raised", Attributes: map[string]string{"role": "guest"}})
	if err != nil {
		t.Fatalf("UpdateParticipant: %v", err)
	}
	if info.Metadata != "hand raised" || info.Attributes["role"] != "guest" {
		t.Errorf("UpdateParticipant answered metadata %q attributes %v", info.Metadata, info.Attributes)
	}
	clustertest.WaitFor(t, 10*time.Second, "everyone to see the speaker's new metadata", func() bool {
		if speaker.room.LocalParticipant.Metadata() != "hand raised" {
			return false
		}
		for _, c := range []*client{host, listener} {
			if p := c.room.GetParticipantByIdentity("speaker"); p == nil || p.Metadata() != "hand raised" {
				return false
			}
		}
		got, err := api.GetParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "meeting", Identity: "speaker"})
		return err == nil && got.Metadata == "hand raised"
	})
	if _, err := api.UpdateParticipant(ctx, &livekit.UpdateParticipantRequest{Room: "meeting", Identity: "speaker", Metadata: strings.Repeat("x", 70_000)}); err == nil {
		t.Error("an oversized update of a participant on a relay node was accepted")
	}
	if _, err := api.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "meeting", Identity: "speaker"}); err != nil {
		t.Fatalf("RemoveParticipant: %v", err)
	}
	clustertest.WaitFor(t, 10*time.Second, "the speaker disconnected and gone from everyone's list", func() bool {
		if speaker.room.ConnectionState() != lksdk.ConnectionStateDisconnected {
			return false
		}
		for _, c := range []*client{host, listener} {
			if slices.Contains(c.others(), "speaker") {
				return false
			}
		}
		return true
	})
	if _, err := api.RemoveParticipant(ctx, &livekit.RoomParticipantIdentity{Room: "meeting", Identity: "nobody"}); err == nil {
		t.Error("removing an unknown identity succeeded")
	}
}
