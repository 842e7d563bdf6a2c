package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/bench/synth"
)

// Kinds index per-kind counters.
const (
	kindAudio = 0
	kindVideo = 1
)

var kindNames = [2]string{"audio", "video"}

// counters are the run-wide totals, updated by every media goroutine.
type counters struct {
	sentPkts, sentBytes [2]atomic.Uint64
	recvPkts, recvBytes [2]atomic.Uint64
	sentTopPkts         atomic.Uint64 // video packets of the top simulcast layer (all video without simulcast)
	keyframeRequests    atomic.Uint64 // PLI/FIR received by publishers
	keyframes           atomic.Uint64 // keyframes sent
	// relayRecvPkts are RTP packets (padding included) read by relay-only participants.
	relayRecvPkts atomic.Uint64
}

// sentStreams records, per published stream (track SID and simulcast layer), how many
// packets were sent, so that packets never delivered at the end count as lost.
type sentStreams struct {
	mu   sync.Mutex
	sent map[streamKey]uint32
}

type streamKey struct {
	sid   string
	layer uint8
}

func (s *sentStreams) set(sid string, layer uint8, n uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sent == nil {
		s.sent = map[streamKey]uint32{}
	}
	s.sent[streamKey{sid, layer}] = n
}

func (s *sentStreams) get(sid string, layer uint8) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, ok := s.sent[streamKey{sid, layer}]
	return n, ok
}

// speakingLevel is the audio level (-dBov) written into every Opus packet's RFC 6464
// extension: loud enough for a server's active-speaker detection.
var speakingLevel uint8 = 30

// publishMedia publishes the group's tracks on room and starts one writer goroutine per
// track (per simulcast layer), which run until ctx ends; wg tracks them.
func publishMedia(ctx context.Context, room *lksdk.Room, identity string, g Group, s *Scenario, c *counters, sent *sentStreams, wg *sync.WaitGroup) error {
	lp := room.LocalParticipant
	if g.PublishAudio {
		track, err := lksdk.NewLocalTrack(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus,
			ClockRate: synth.OpusClockRate, Channels: 2, SDPFmtpLine: "minptime=10;useinbandfec=1"})
		if err != nil {
			return fmt.Errorf("audio track: %w", err)
		}
		pub, err := lp.PublishTrack(track, &lksdk.TrackPublicationOptions{Name: "microphone",
			Source: livekit.TrackSource_MICROPHONE})
		if err != nil {
			return fmt.Errorf("publish audio: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent.set(pub.SID(), 0, writeAudio(ctx, track, synth.NewOpus(s.Audio.Bitrate), c))
		}()
	}
	if !g.PublishVideo {
		return nil
	}
	capability := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: synth.VideoClockRate}
	if s.Video.Codec == "h264" {
		capability = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeH264, ClockRate: synth.VideoClockRate,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f"}
	}
	layers := s.Video.Layers()
	qualities := []livekit.VideoQuality{livekit.VideoQuality_HIGH}
	if len(layers) == 3 {
		qualities = []livekit.VideoQuality{livekit.VideoQuality_LOW, livekit.VideoQuality_MEDIUM,
			livekit.VideoQuality_HIGH}
	}
	var tracks []*lksdk.LocalTrack
	var gens []*synth.Video
	for i, lp := range layers {
		gen, err := synth.NewVideo(lp)
		if err != nil {
			return err
		}
		var opts []lksdk.LocalTrackOptions
		opts = append(opts, lksdk.WithRTCPHandler(func(p rtcp.Packet) {
			switch p.(type) {
			case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
				c.keyframeRequests.Add(1)
				gen.RequestKeyframe()
			}
		}))
		if len(layers) > 1 {
			opts = append(opts, lksdk.WithSimulcast("camera-"+identity, &livekit.VideoLayer{
				Quality: qualities[i], Width: uint32(lp.Width), Height: uint32(lp.Height),
				Bitrate: uint32(lp.Bitrate)}))
		}
		track, err := lksdk.NewLocalTrack(capability, opts...)
		if err != nil {
			return fmt.Errorf("video track: %w", err)
		}
		tracks = append(tracks, track)
		gens = append(gens, gen)
	}
	pubOpts := &lksdk.TrackPublicationOptions{Name: "camera", Source: livekit.TrackSource_CAMERA,
		VideoWidth: s.Video.Width, VideoHeight: s.Video.Height}
	var pub *lksdk.LocalTrackPublication
	var err error
	if len(tracks) == 1 {
		pub, err = lp.PublishTrack(tracks[0], pubOpts)
	} else {
		pub, err = lp.PublishSimulcastTrack(tracks, pubOpts)
	}
	if err != nil {
		return fmt.Errorf("publish video: %w", err)
	}
	for i := range tracks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := writeVideo(ctx, tracks[i], gens[i], uint8(i), i == len(tracks)-1, c)
			sent.set(pub.SID(), uint8(i), n)
		}()
	}
	return nil
}

// writeAudio sends one Opus packet every 20 ms until ctx ends or the track fails, and
// returns the number of packets sent.
func writeAudio(ctx context.Context, track *lksdk.LocalTrack, gen *synth.Opus, c *counters) (sent uint32) {
	t := time.NewTicker(synth.OpusFrameDuration)
	defer t.Stop()
	opts := &lksdk.SampleWriteOptions{AudioLevel: &speakingLevel}
	var seq uint32
	var rtpSeq uint16
	var ts uint32
	for {
		select {
		case <-ctx.Done():
			return seq
		case <-t.C:
		}
		ts += synth.OpusTicksPerFrame
		if !track.IsBound() {
			continue
		}
		payload := gen.Next()
		synth.PutStamp(payload, synth.Stamp{Seq: seq, Flags: synth.FlagAudio, Sent: time.Now()})
		pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: seq == 0, SequenceNumber: rtpSeq,
			Timestamp: ts}, Payload: payload}
		if err := track.WriteRTP(&pkt, opts); err != nil {
			return seq
		}
		seq++
		rtpSeq++
		c.sentPkts[kindAudio].Add(1)
		c.sentBytes[kindAudio].Add(uint64(len(payload)))
	}
}

// writeVideo sends one frame per frame interval until ctx ends or the track fails, and
// returns the number of packets sent.
func writeVideo(ctx context.Context, track *lksdk.LocalTrack, gen *synth.Video, layer uint8, top bool, c *counters) (sent uint32) {
	t := time.NewTicker(gen.FrameInterval())
	defer t.Stop()
	var seq uint32
	var rtpSeq uint16
	var ts uint32
	for {
		select {
		case <-ctx.Done():
			return seq
		case <-t.C:
		}
		ts += gen.TicksPerFrame()
		if !track.IsBound() {
			continue
		}
		now := time.Now()
		payloads, key := gen.NextFrame(now)
		var flags uint8
		if key {
			flags = synth.FlagKeyframe
			c.keyframes.Add(1)
		}
		var bytes uint64
		for i, p := range payloads {
			synth.PutStamp(p, synth.Stamp{Seq: seq, Layer: layer, Flags: flags, Sent: time.Now()})
			pkt := rtp.Packet{Header: rtp.Header{Version: 2, Marker: i == len(payloads)-1,
				SequenceNumber: rtpSeq, Timestamp: ts}, Payload: p}
			if err := track.WriteRTP(&pkt, nil); err != nil {
				return seq
			}
			seq++
			rtpSeq++
			bytes += uint64(len(p))
		}
		c.sentPkts[kindVideo].Add(uint64(len(payloads)))
		c.sentBytes[kindVideo].Add(bytes)
		if top {
			c.sentTopPkts.Add(uint64(len(payloads)))
		}
	}
}
