package cluster_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/atrium-live/atrium/bench/synth"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// peer is one server-sdk-go participant that publishes a synthetic Opus track and counts
// the RTP packets it receives from everyone else, so tests can tell when media flows.
type peer struct {
	identity string
	room     *lksdk.Room
	received atomic.Int64
	lastRecv atomic.Int64 // unix nanos of the last packet received
	stop     chan struct{}
	wg       sync.WaitGroup
	disconn  atomic.Bool
	// firstAway is when the first packet arrived while served by a node other than
	// awayFrom (failover tests), unix nanos; 0 until then.
	awayFrom  atomic.Value // string
	firstAway atomic.Int64
}

// join connects identity to room at url and publishes audio (unless publish is false).
func join(t testing.TB, url, token, identity string, publish bool) *peer {
	t.Helper()
	p := &peer{identity: identity, stop: make(chan struct{})}
	cb := &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(track *webrtc.TrackRemote, _ *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
				p.wg.Add(1)
				go func() {
					defer p.wg.Done()
					buf := make([]byte, 1500)
					for {
						if _, _, err := track.Read(buf); err != nil {
							return
						}
						now := time.Now().UnixNano()
						p.received.Add(1)
						p.lastRecv.Store(now)
						if from, _ := p.awayFrom.Load().(string); from != "" && p.firstAway.Load() == 0 &&
							p.room.ServerInfo().GetNodeId() != from {
							p.firstAway.CompareAndSwap(0, now)
						}
					}
				}()
			},
		},
		OnDisconnected: func() { p.disconn.Store(true) },
	}
	room, err := lksdk.ConnectToRoomWithToken(url, token, cb, lksdk.WithConnectTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("%s: connect %s: %v", identity, url, err)
	}
	p.room = room
	if publish {
		track, err := lksdk.NewLocalSampleTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := room.LocalParticipant.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "mic", Source: livekit.TrackSource_MICROPHONE}); err != nil {
			t.Fatalf("%s: publish: %v", identity, err)
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			gen := synth.NewOpus(32000)
			tick := time.NewTicker(synth.OpusFrameDuration)
			defer tick.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-tick.C:
					_ = track.WriteSample(media.Sample{Data: gen.Next(), Duration: synth.OpusFrameDuration}, nil)
				}
			}
		}()
	}
	t.Cleanup(p.close)
	return p
}

func (p *peer) close() {
	select {
	case <-p.stop:
		return
	default:
	}
	close(p.stop)
	p.room.Disconnect()
	p.wg.Wait()
}

// waitMedia waits until p has received more packets than it had.
func (p *peer) waitMedia(t testing.TB, d time.Duration) {
	t.Helper()
	base := p.received.Load()
	clustertest.WaitFor(t, d, p.identity+" to receive media", func() bool { return p.received.Load() > base+5 })
}

// mediaAfter reports whether p received a packet after at.
func (p *peer) mediaAfter(at time.Time) bool { return p.lastRecv.Load() > at.UnixNano() }

// serverNode is the node id the participant's JoinResponse named.
func (p *peer) serverNode() string { return p.room.ServerInfo().GetNodeId() }
