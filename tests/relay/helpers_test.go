// Package relay_test checks rooms spanning nodes (docs/relay.md) on in-process clusters:
// real SFU nodes, gossip, the gateway and server-sdk-go clients, over loopback.
package relay_test

import (
	"context"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/bench/synth"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// startCluster starts n in-process nodes with relaying on: perNode participants of a room
// per node, short dynacast pause.
func startCluster(t *testing.T, n, perNode int) *clustertest.Cluster {
	sfutest.QuietSDK()
	return clustertest.Start(t, clustertest.Options{Nodes: n, Configure: func(_ int, c *sfu.Config) {
		c.Relay.Addr = "127.0.0.1:0"
		c.Relay.ParticipantsPerNode = perNode
		// No node is killed in these tests: the lan preset's failure detector (~6 s) does not
		// declare a node starved by a loaded machine (or the race detector) dead, as the
		// local one (~1.3 s) can.
		c.Cluster.Preset = "lan"
		c.Room.DynacastPauseDelay = 300 * time.Millisecond
		c.Room.EmptyTimeout = 2 * time.Second
	}})
}

// client is one server-sdk-go participant that counts what it receives.
type client struct {
	identity string
	room     *lksdk.Room

	mu       sync.Mutex
	kinds    map[webrtc.RTPCodecType]int // packets per kind
	seqs     map[string]*seqCount        // per track: sequence numbers seen
	layers   map[int]int                 // video packets per simulcast layer (synth stamp)
	data     map[string]bool             // payloads of data packets received
	pubs     map[string]*lksdk.RemoteTrackPublication
	speaking map[string]bool // current active speakers
	spoke    map[string]int  // times each identity became an active speaker
	mic      *lksdk.LocalTrackPublication
	plis     [3]atomic.Int64 // publisher: keyframe requests per layer
	stop     chan struct{}
	wg       sync.WaitGroup
	lastLoss atomic.Int64
}

// seqCount records the sequence numbers of one received track after a start mark.
type seqCount struct {
	seen       map[uint16]bool
	on         bool
	first, max uint16
}

func connect(t *testing.T, url, token, identity string) *client {
	t.Helper()
	c := &client{identity: identity, kinds: map[webrtc.RTPCodecType]int{}, seqs: map[string]*seqCount{},
		layers: map[int]int{}, data: map[string]bool{}, speaking: map[string]bool{}, spoke: map[string]int{}, pubs: map[string]*lksdk.RemoteTrackPublication{}, stop: make(chan struct{})}
	cb := &lksdk.RoomCallback{
		ParticipantCallback: lksdk.ParticipantCallback{
			OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
				c.mu.Lock()
				c.pubs[pub.SID()] = pub
				c.mu.Unlock()
				c.wg.Add(1)
				go c.read(track, pub.SID())
			},
			OnDataPacket: func(d lksdk.DataPacket, _ lksdk.DataReceiveParams) {
				if u, ok := d.(*lksdk.UserDataPacket); ok {
					c.mu.Lock()
					c.data[string(u.Payload)] = true
					c.mu.Unlock()
				}
			},
		},
		OnActiveSpeakersChanged: func(ps []lksdk.Participant) {
			c.mu.Lock()
			now := map[string]bool{}
			for _, p := range ps {
				now[p.Identity()] = true
				if !c.speaking[p.Identity()] {
					c.spoke[p.Identity()]++
				}
			}
			c.speaking = now
			c.mu.Unlock()
		},
	}
	room, err := lksdk.ConnectToRoomWithToken(url, token, cb, lksdk.WithConnectTimeout(30*time.Second))
	if err != nil {
		t.Fatalf("%s: connect: %v", identity, err)
	}
	c.room = room
	t.Cleanup(c.close)
	return c
}

func (c *client) read(track *webrtc.TrackRemote, sid string) {
	defer c.wg.Done()
	buf := make([]byte, 1500)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		var p rtp.Packet
		if p.Unmarshal(buf[:n]) != nil {
			continue
		}
		c.mu.Lock()
		c.kinds[track.Kind()]++
		if track.Kind() == webrtc.RTPCodecTypeVideo {
			if st, ok := synth.ReadStamp(p.Payload); ok {
				c.layers[int(st.Layer)]++
			}
		}
		if sc := c.seqs[sid]; sc != nil && sc.on {
			if len(sc.seen) == 0 {
				sc.first, sc.max = p.SequenceNumber, p.SequenceNumber
			}
			if int16(p.SequenceNumber-sc.max) > 0 {
				sc.max = p.SequenceNumber
			}
			sc.seen[p.SequenceNumber] = true
		}
		c.mu.Unlock()
	}
}

func (c *client) close() {
	select {
	case <-c.stop:
		return
	default:
	}
	close(c.stop)
	c.room.Disconnect()
	c.wg.Wait()
}

func (c *client) node() string { return c.room.ServerInfo().GetNodeId() }

func (c *client) count(kind webrtc.RTPCodecType) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kinds[kind]
}

// speaking is the audio level (-dBov) the synthetic microphone reports: loud enough for
// active-speaker detection.
var speaking uint8 = 30

// activeSpeaker reports whether identity is an active speaker now, and how many times it
// became one.
func (c *client) activeSpeaker(identity string) (now bool, times int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speaking[identity], c.spoke[identity]
}

func (c *client) layerCount(l int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.layers[l]
}

func (c *client) got(payload string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.data[payload]
}

// others is the sorted identities this client sees in the room.
func (c *client) others() []string {
	var out []string
	for _, p := range c.room.GetRemoteParticipants() {
		out = append(out, p.Identity())
	}
	sort.Strings(out)
	return out
}

// startLossCount starts recording sequence numbers of every track received.
func (c *client) startLossCount() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for sid := range c.pubs {
		c.seqs[sid] = &seqCount{seen: map[uint16]bool{}, on: true}
	}
}

// loss is the fraction of packets missing between the first and highest sequence number
// recorded, over all tracks, leaving out the last 50 (repairs still in flight).
func (c *client) loss() (lost, total int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, sc := range c.seqs {
		span := int(uint16(sc.max-sc.first)) + 1 - 50
		for i := 0; i < span; i++ {
			total++
			if !sc.seen[sc.first+uint16(i)] {
				lost++
			}
		}
	}
	return lost, total
}

func (c *client) publication(kind lksdk.TrackKind) *lksdk.RemoteTrackPublication {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.pubs {
		if p.Kind() == kind {
			return p
		}
	}
	return nil
}

// publish sends audio and a three-layer simulcast VP8 camera (small bitrates: 2 shared
// cores) until the test ends, counting keyframe requests per layer.
func (c *client) publish(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	lp := c.room.LocalParticipant
	audio, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2})
	if err != nil {
		t.Fatal(err)
	}
	mic, err := lp.PublishTrack(audio, &lksdk.TrackPublicationOptions{Name: "mic", Source: livekit.TrackSource_MICROPHONE})
	if err != nil {
		t.Fatalf("publish audio: %v", err)
	}
	c.mic = mic
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		gen := synth.NewOpus(24000)
		tick := time.NewTicker(synth.OpusFrameDuration)
		defer tick.Stop()
		var seq uint16
		var ts uint32
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.stop:
				return
			case <-tick.C:
			}
			ts += synth.OpusTicksPerFrame
			if !audio.IsBound() {
				continue
			}
			_ = audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: gen.Next()},
				&lksdk.SampleWriteOptions{AudioLevel: &speaking})
			seq++
		}
	}()
	qualities := []livekit.VideoQuality{livekit.VideoQuality_LOW, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_HIGH}
	var tracks []*lksdk.LocalTrack
	var gens []*synth.Video
	for i, q := range qualities {
		w, h := 160<<i, 90<<i
		gen, err := synth.NewVideo(synth.VideoParams{Codec: "vp8", Bitrate: 40000 << i, FPS: 15, Width: w, Height: h})
		if err != nil {
			t.Fatal(err)
		}
		layer := i
		tr, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: synth.VideoClockRate},
			lksdk.WithSimulcast("cam-"+c.identity, &livekit.VideoLayer{Quality: q, Width: uint32(w), Height: uint32(h), Bitrate: uint32(40000 << i)}),
			lksdk.WithRTCPHandler(func(p rtcp.Packet) {
				switch p.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					c.plis[layer].Add(1)
					gen.RequestKeyframe()
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		tracks, gens = append(tracks, tr), append(gens, gen)
	}
	if _, err := lp.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{Name: "camera", Source: livekit.TrackSource_CAMERA, VideoWidth: 640, VideoHeight: 360}); err != nil {
		t.Fatalf("publish video: %v", err)
	}
	for i := range tracks {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			tick := time.NewTicker(gens[i].FrameInterval())
			defer tick.Stop()
			var seq uint16
			var ts, n uint32
			for {
				select {
				case <-ctx.Done():
					return
				case <-c.stop:
					return
				case <-tick.C:
				}
				ts += gens[i].TicksPerFrame()
				if !tracks[i].IsBound() {
					continue
				}
				payloads, _ := gens[i].NextFrame(time.Now())
				for j, p := range payloads {
					synth.PutStamp(p, synth.Stamp{Seq: n, Layer: uint8(i), Sent: time.Now()})
					n++
					_ = tracks[i].WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, Marker: j == len(payloads)-1, SequenceNumber: seq, Timestamp: ts}, Payload: p}, nil)
					seq++
				}
			}
		}()
	}
}

// gauge reads a gauge or counter from a node's registry.
func gauge(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		var v float64
		for _, m := range mf.GetMetric() {
			if m.Gauge != nil {
				v += m.GetGauge().GetValue()
			}
			if m.Counter != nil {
				v += m.GetCounter().GetValue()
			}
		}
		return v
	}
	return 0
}

func without(all []string, id string) []string {
	out := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == id })
	sort.Strings(out)
	return out
}
