package turn_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/turn/turntest"
)

// Acceptance (issue 6): a relay-only publisher sends media through the TURN relay to the SFU,
// and a relay-only subscriber receives it through the relay, with TURN over UDP and over TCP.
// The SFU hands both clients the relay's URL with fresh credentials in JoinResponse.ice_servers;
// ICETransportPolicy relay leaves them no other path, and the relay's metrics prove the media
// crossed it on the expected client transport.
func TestEndToEndRelayOnlyThroughSFU(t *testing.T) {
	for _, transport := range []string{"udp", "tcp"} {
		t.Run(transport, func(t *testing.T) {
			relay := turntest.Serve(t, turntest.Options{})
			srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
				c.TURN = sfu.TURNConfig{URLs: []string{relay.URL(transport)}, Secret: relay.Secret, TTL: time.Hour}
			}))

			var received atomic.Int64
			subscribed := make(chan string, 1)
			subCB := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
				OnTrackSubscribed: func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
					select {
					case subscribed <- track.Codec().MimeType:
					default:
					}
					go func() {
						for {
							if _, _, err := track.ReadRTP(); err != nil {
								return
							}
							received.Add(1)
						}
					}()
				},
			}}
			joinRelayOnly(t, srv, "class-"+transport, "student", subCB)
			teacher := joinRelayOnly(t, srv, "class-"+transport, "teacher", &lksdk.RoomCallback{})

			track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
			if err != nil {
				t.Fatalf("NewLocalSampleTrack: %v", err)
			}
			if _, err := teacher.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "mic"}); err != nil {
				t.Fatalf("PublishTrack: %v", err)
			}
			ctx, stop := context.WithCancel(context.Background())
			writerDone := make(chan struct{})
			go func() {
				defer close(writerDone)
				frame := make([]byte, 80)
				tick := time.NewTicker(20 * time.Millisecond)
				defer tick.Stop()
				for i := 0; ; i++ {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					frame[0] = byte(i)
					if err := track.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond}, nil); err != nil && !errors.Is(err, context.Canceled) {
						continue // not bound yet
					}
				}
			}()
			defer func() { stop(); <-writerDone }()

			select {
			case mime := <-subscribed:
				if mime != webrtc.MimeTypeOpus {
					t.Errorf("subscribed track codec %q, want %q", mime, webrtc.MimeTypeOpus)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("the relay-only student never got the teacher's track over TURN/%s", transport)
			}
			eventually(t, 20*time.Second, "the student to receive 50 RTP packets", func() bool { return received.Load() >= 50 })

			reg := relay.Server.Registry()
			other := map[string]string{"udp": "tcp", "tcp": "udp"}[transport]
			if n := metricValue(t, reg, "atrium_turn_allocations_created_total", map[string]string{"transport": transport}); n < 2 {
				t.Errorf("allocations created over %s = %v, want >= 2 (publisher and subscriber)", transport, n)
			}
			if n := metricValue(t, reg, "atrium_turn_allocations_created_total", map[string]string{"transport": other}); n != 0 {
				t.Errorf("allocations created over %s = %v, want 0: the SFU handed out only the %s URL", other, n, transport)
			}
			for _, dir := range []string{"to_peer", "from_peer"} {
				if n := metricValue(t, reg, "atrium_turn_relayed_packets_total", map[string]string{"transport": transport, "direction": dir}); n < 50 {
					t.Errorf("relayed packets %s over %s = %v, want >= 50: media must cross the relay", dir, transport, n)
				}
			}
		})
	}
}

// joinRelayOnly connects a server-sdk-go client whose PeerConnections may use relay
// candidates only, and disconnects it when the test ends.
func joinRelayOnly(t *testing.T, srv *sfutest.Server, room, identity string, cb *lksdk.RoomCallback) *lksdk.Room {
	t.Helper()
	r, err := lksdk.ConnectToRoomWithToken(srv.URL(), srv.Token(room, identity), cb,
		lksdk.WithICETransportPolicy(webrtc.ICETransportPolicyRelay),
		lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(15*time.Second))
	if err != nil {
		t.Fatalf("join %s/%s relay-only: %v", room, identity, err)
	}
	t.Cleanup(r.Disconnect)
	return r
}
