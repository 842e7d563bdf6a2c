package sfu_test

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// synthPublisher publishes synthetic frames on one track until the test ends: video at
// 30 fps with a keyframe every 2 s and whenever a PLI or FIR arrives, audio as 20 ms Opus
// silence frames.
type synthPublisher struct {
	track     *lksdk.LocalTrack
	pub       *lksdk.LocalTrackPublication
	plis      atomic.Int32
	keyReq    atomic.Bool
	extKeyReq *atomic.Bool // simulcast layers: requests recorded by the shared RTCP handler
	// audioLevel is 1 + the RFC 6464 level (0 dBov loudest .. 127 silent) to put on audio
	// packets; 0 sends no level.
	audioLevel atomic.Int32
	sent       atomic.Int64
	stop       chan struct{}
	done       chan struct{}
}

var (
	opusCap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	vp8Cap  = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	h264Cap = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: 90000,
		SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
)

func publishSynth(t *testing.T, room *lksdk.Room, c webrtc.RTPCodecCapability, name string, opts ...lksdk.LocalTrackOptions) *synthPublisher {
	t.Helper()
	p := &synthPublisher{stop: make(chan struct{}), done: make(chan struct{})}
	opts = append(opts, lksdk.WithRTCPHandler(func(pkt rtcp.Packet) {
		switch pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			p.plis.Add(1)
			p.keyReq.Store(true)
		}
	}))
	track, err := lksdk.NewLocalSampleTrack(c, opts...)
	if err != nil {
		t.Fatalf("NewLocalSampleTrack(%s): %v", c.MimeType, err)
	}
	p.track = track
	popts := &lksdk.TrackPublicationOptions{Name: name, Source: livekit.TrackSource_MICROPHONE}
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		popts.Source = livekit.TrackSource_CAMERA
		popts.VideoWidth, popts.VideoHeight = 64, 48
	}
	p.pub, err = room.LocalParticipant.PublishTrack(track, popts)
	if err != nil {
		t.Fatalf("PublishTrack(%s): %v", c.MimeType, err)
	}
	go p.run(p.track, c.MimeType, 64, 48)
	t.Cleanup(p.close)
	return p
}

// publishSimulcast publishes a VP8 track with three layers (q, h, f) whose keyframes carry
// their layer's dimensions, so a subscriber can tell which layer it is being sent.
func publishSimulcast(t *testing.T, room *lksdk.Room, dims [3][2]int) *synthPublisher {
	t.Helper()
	p := &synthPublisher{stop: make(chan struct{}), done: make(chan struct{})}
	qualities := []livekit.VideoQuality{livekit.VideoQuality_LOW, livekit.VideoQuality_MEDIUM, livekit.VideoQuality_HIGH}
	var tracks []*lksdk.LocalTrack
	keyReqs := make([]*atomic.Bool, 3)
	for i, q := range qualities {
		keyReqs[i] = &atomic.Bool{}
		req := keyReqs[i]
		tr, err := lksdk.NewLocalSampleTrack(vp8Cap,
			lksdk.WithSimulcast("sim", &livekit.VideoLayer{Quality: q, Width: uint32(dims[i][0]), Height: uint32(dims[i][1])}),
			lksdk.WithRTCPHandler(func(pkt rtcp.Packet) {
				switch pkt.(type) {
				case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
					p.plis.Add(1)
					req.Store(true)
				}
			}))
		if err != nil {
			t.Fatal(err)
		}
		tracks = append(tracks, tr)
	}
	var err error
	p.pub, err = room.LocalParticipant.PublishSimulcastTrack(tracks, &lksdk.TrackPublicationOptions{
		Name: "sim", Source: livekit.TrackSource_CAMERA, VideoWidth: dims[2][0], VideoHeight: dims[2][1]})
	if err != nil {
		t.Fatalf("PublishSimulcastTrack: %v", err)
	}
	var wg sync.WaitGroup
	for i, tr := range tracks {
		wg.Add(1)
		lp := &synthPublisher{track: tr, stop: p.stop, done: make(chan struct{})}
		lp.keyReq.Store(false)
		go func(i int) {
			defer wg.Done()
			lp.keyReqFrom(keyReqs[i])
			lp.run(tr, webrtc.MimeTypeVP8, dims[i][0], dims[i][1])
		}(i)
	}
	go func() { wg.Wait(); close(p.done) }()
	t.Cleanup(p.close)
	return p
}

func (p *synthPublisher) close() {
	select {
	case <-p.stop:
	default:
		close(p.stop)
	}
	<-p.done
}

// keyReqFrom makes run honour keyframe requests recorded in req.
func (p *synthPublisher) keyReqFrom(req *atomic.Bool) { p.extKeyReq = req }

func (p *synthPublisher) run(track *lksdk.LocalTrack, mime string, width, height int) {
	defer close(p.done)
	interval := 33 * time.Millisecond
	if mime == webrtc.MimeTypeOpus {
		interval = 20 * time.Millisecond
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	h264 := &h264Stream{wMB: 4, hMB: 3}
	for n := 0; ; n++ {
		select {
		case <-p.stop:
			return
		case <-tick.C:
		}
		key := n%60 == 0 || p.keyReq.Swap(false)
		if p.extKeyReq != nil && p.extKeyReq.Swap(false) {
			key = true
		}
		var data []byte
		switch mime {
		case webrtc.MimeTypeOpus:
			data = []byte{0xf8, 0xff, 0xfe} // Opus CELT 20 ms silence (RFC 6716 §3.1 TOC)
		case webrtc.MimeTypeVP8:
			data = vp8Frame(key, width, height, byte(n))
		case webrtc.MimeTypeH264:
			data = h264.next(key, byte(0x40+n%64))
		}
		var opts *lksdk.SampleWriteOptions
		if lvl := p.audioLevel.Load(); lvl > 0 && mime == webrtc.MimeTypeOpus {
			l := uint8(lvl - 1)
			opts = &lksdk.SampleWriteOptions{AudioLevel: &l}
		}
		if err := track.WriteSample(media.Sample{Data: data, Duration: interval}, opts); err == nil {
			p.sent.Add(1)
		}
	}
}

// received counts what a subscriber gets on one track.
type received struct {
	mu        sync.Mutex
	packets   int
	keyframes int
	firstAt   time.Time
	firstKey  time.Time
	keyWidth  int // width in the last VP8 keyframe header
	mime      string
	streamID  string
	trackID   string
}

func (r *received) snapshot() received {
	r.mu.Lock()
	defer r.mu.Unlock()
	return received{packets: r.packets, keyframes: r.keyframes, firstAt: r.firstAt, firstKey: r.firstKey, keyWidth: r.keyWidth, mime: r.mime, streamID: r.streamID, trackID: r.trackID}
}

// consume reads track until it ends, counting packets and keyframes.
func (r *received) consume(track *webrtc.TrackRemote) {
	r.mu.Lock()
	r.mime, r.streamID, r.trackID = track.Codec().MimeType, track.StreamID(), track.ID()
	r.mu.Unlock()
	for {
		pkt, _, err := track.ReadRTP()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
		key := isKeyframe(track.Codec().MimeType, pkt)
		r.mu.Lock()
		r.packets++
		if r.firstAt.IsZero() {
			r.firstAt = time.Now()
		}
		if key {
			r.keyWidth = vp8KeyWidth(pkt)
			r.keyframes++
			if r.firstKey.IsZero() {
				r.firstKey = time.Now()
			}
		}
		r.mu.Unlock()
	}
}

// isKeyframe recognises the first packet of a VP8 keyframe or an H.264 IDR/SPS.
func isKeyframe(mime string, pkt *rtp.Packet) bool {
	switch mime {
	case webrtc.MimeTypeVP8:
		var vp8 codecs.VP8Packet
		payload, err := vp8.Unmarshal(pkt.Payload)
		return err == nil && vp8.S == 1 && vp8.PID == 0 && len(payload) > 0 && payload[0]&1 == 0
	case webrtc.MimeTypeH264:
		if len(pkt.Payload) < 1 {
			return false
		}
		switch typ := pkt.Payload[0] & 0x1f; typ {
		case 5, 7:
			return true
		case 24: // STAP-A: look at the first aggregated unit
			return len(pkt.Payload) > 3 && (pkt.Payload[3]&0x1f == 7 || pkt.Payload[3]&0x1f == 5)
		case 28: // FU-A start of an IDR
			return len(pkt.Payload) > 1 && pkt.Payload[1]&0x80 != 0 && pkt.Payload[1]&0x1f == 5
		}
	}
	return false
}

// vp8KeyWidth reads the width from a VP8 keyframe's header (RFC 6386 §9.1), 0 if absent.
func vp8KeyWidth(pkt *rtp.Packet) int {
	var vp8 codecs.VP8Packet
	payload, err := vp8.Unmarshal(pkt.Payload)
	if err != nil || len(payload) < 10 || payload[3] != 0x9d || payload[4] != 0x01 || payload[5] != 0x2a {
		return 0
	}
	return int(payload[6]) | int(payload[7]&0x3f)<<8
}

// subscriber records every track a client subscribes to, by track sid.
type subscriber struct {
	mu     sync.Mutex
	tracks map[string]*received
}

func newSubscriber() *subscriber { return &subscriber{tracks: map[string]*received{}} }

func (s *subscriber) callback() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnTrackSubscribed: func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
			r := &received{}
			s.mu.Lock()
			s.tracks[pub.SID()] = r
			s.mu.Unlock()
			go r.consume(track)
		},
	}}
}

func (s *subscriber) get(sid string) (received, bool) {
	s.mu.Lock()
	r, ok := s.tracks[sid]
	s.mu.Unlock()
	if !ok {
		return received{}, false
	}
	return r.snapshot(), true
}
