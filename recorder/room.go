package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/pkg/access"
)

// epoch is one recording run of a job on this recorder: a fresh start, or a takeover that
// continues after prior's segments with a discontinuity. Within it, each change of the
// recorded picture starts a new muxer (a new init segment after a discontinuity).
type epoch struct {
	job   Job
	prior []Segment
	// stop asks for a graceful end: the last segment is flushed and the playlist ends
	// with EXT-X-ENDLIST. Cancelling the context instead abandons the epoch as a crash would.
	stop <-chan struct{}
	// onSegment is called after each segment and the playlist naming it are stored.
	onSegment func(Segment)
}

// epochResult is what an epoch produced.
type epochResult struct {
	segments []Segment // prior and new
	finished bool      // the VOD playlist (with EXT-X-ENDLIST) is stored
}

// videoSource is one subscribed video track the recording may show.
type videoSource struct {
	track  *webrtc.TrackRemote
	pub    *lksdk.RemoteTrackPublication
	rp     *lksdk.RemoteParticipant
	screen bool
	sink   atomic.Pointer[sink] // set while this source feeds the muxer
	// accept is the size the last muxer on this source ended at, which the next one starts
	// on without waiting for the top layer. Used by the epoch's goroutine only.
	accept picSize
}

// media is what the session subscribed to; changed is closed and replaced on each change.
type media struct {
	mu      sync.Mutex
	camera  *videoSource
	screen  *videoSource
	changed chan struct{}
}

func (m *media) notify() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// current returns the source to record now and the channel that says when that may change.
func (m *media) current() (*videoSource, <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return chooseVideo(m.camera, m.screen), m.changed
}

// chooseVideo is the switching rule: a shared screen, while there is one, is what students
// want to watch later; otherwise the teacher's camera.
func chooseVideo(camera, screen *videoSource) *videoSource {
	if screen != nil {
		return screen
	}
	return camera
}

// runEpoch records one epoch: it joins the room hidden with the recorder grant, forwards
// every speaker into the audio mixer, and runs one muxer per stretch of picture (camera, or
// a shared screen while one is published), until stop (VOD playlist stored) or ctx ends.
func (s *Server) runEpoch(ctx context.Context, e epoch) (epochResult, error) {
	log := s.log.With("recording", e.job.ID, "room", e.job.Room)
	res := epochResult{segments: append([]Segment(nil), e.prior...)}
	m := &media{changed: make(chan struct{})}
	// One socket sends every forwarded stream: sending sockets of their own would take
	// ephemeral ports that ffmpeg may be about to bind.
	sender, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return res, fmt.Errorf("loopback sender: %w", err)
	}
	defer sender.Close()
	_ = sender.SetWriteBuffer(1 << 20)
	mixer := newAudioMixer(s.cfg.AudioSlots, sender)
	var audioOn atomic.Bool
	var wg sync.WaitGroup
	defer wg.Wait()

	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, rp *lksdk.RemoteParticipant) {
		if track.Kind() == webrtc.RTPCodecTypeAudio && e.job.wantsAudio(pub) {
			if slot := mixer.assign(rp.Identity()); slot != nil {
				wg.Add(1)
				go func() {
					defer wg.Done()
					forwardAudio(track, slot, audioOn.Load)
				}()
				return
			}
			log.Warn("more speakers than audio slots; not mixed", "identity", rp.Identity(), "slots", s.cfg.AudioSlots)
		}
		src := &videoSource{track: track, pub: pub, rp: rp, screen: pub.Source() == livekit.TrackSource_SCREEN_SHARE}
		m.mu.Lock()
		keep := false
		if track.Kind() == webrtc.RTPCodecTypeVideo {
			switch {
			case src.screen && e.job.VideoTrack == "" && m.screen == nil:
				m.screen, keep = src, true
			case !src.screen && m.camera == nil && e.job.wantsVideo(pub, rp.Identity()):
				m.camera, keep = src, true
			case e.job.VideoTrack != "" && pub.SID() == e.job.VideoTrack && m.camera == nil:
				m.camera, keep = src, true
			}
		}
		if keep {
			m.notify()
		}
		m.mu.Unlock()
		if !keep {
			// Not recorded: stop the SFU sending it.
			_ = pub.SetSubscribed(false)
			return
		}
		// The best picture the publisher sends: the top simulcast layer. (The SFU's
		// default is the top layer too, but it starts a subscriber on whichever layer's
		// keyframe comes first; the muxer waits for the top one, see keyframeAction.)
		if err := pub.SetVideoQuality(livekit.VideoQuality_HIGH); err != nil {
			log.Warn("asking for the top layer", "track", pub.SID(), "err", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			forward(track, &src.sink)
			m.mu.Lock()
			if m.camera == src {
				m.camera = nil
			}
			if m.screen == src {
				m.screen = nil
			}
			m.notify()
			m.mu.Unlock()
		}()
	}
	tok, err := access.NewToken{APIKey: s.cfg.LiveKit.APIKey, APISecret: s.cfg.LiveKit.APISecret,
		Room: e.job.Room, Identity: "recorder-" + e.job.ID, Name: "Recorder",
		Grant: &auth.VideoGrant{RoomJoin: true, Room: e.job.Room, Hidden: true, Recorder: true,
			CanPublish: ptr(false), CanPublishData: ptr(false), CanSubscribe: ptr(true)}}.Mint()
	if err != nil {
		return res, fmt.Errorf("recorder token: %w", err)
	}
	ics, err := receiveInterceptors()
	if err != nil {
		return res, err
	}
	room, err := lksdk.ConnectToRoomWithToken(s.cfg.LiveKit.URL, tok, cb, lksdk.WithAutoSubscribe(true),
		lksdk.WithInterceptors(ics))
	if err != nil {
		return res, fmt.Errorf("join room %s: %w", e.job.Room, err)
	}
	leave := sync.OnceFunc(room.Disconnect)
	defer leave()

	discontinuity := len(e.prior) > 0
	startFailures := 0
	for {
		// Wait for a picture: ffmpeg's inputs are fixed when it starts. Audio needs no
		// wait: the mixer's slots exist from the start and speakers join them any time.
		src, changed := m.current()
		if src == nil {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-e.stop:
				return res, s.finishEmpty(ctx, e, &res)
			case <-changed:
				continue
			}
		}
		out, err := s.mux(ctx, muxRun{sender: sender, job: e.job, res: &res, src: src, media: m, mixer: mixer, audioOn: &audioOn,
			stop: e.stop, leave: leave, onSegment: e.onSegment, discontinuity: discontinuity, log: log})
		if errors.Is(err, errMuxStart) && startFailures < 3 && ctx.Err() == nil {
			startFailures++
			log.Warn("muxer failed at start; starting it again", "err", err, "attempt", startFailures)
			continue
		}
		if err != nil || out == muxFinished {
			return res, err
		}
		startFailures = 0
		discontinuity = true // the picture changed: the next muxer starts after a discontinuity
	}
}

// muxOutcome says why a muxer run ended without error.
type muxOutcome int

const (
	muxFinished muxOutcome = iota // stopped: the VOD playlist is stored
	muxSwitched                   // the picture changed: start another muxer
)

// muxRun is what one muxer run needs from its epoch.
type muxRun struct {
	sender        *net.UDPConn
	job           Job
	res           *epochResult
	src           *videoSource
	media         *media
	mixer         *audioMixer
	audioOn       *atomic.Bool
	stop          <-chan struct{}
	leave         func()
	onSegment     func(Segment)
	discontinuity bool
	log           *slog.Logger
}

// receiveInterceptors are the recorder's RTP interceptors: NACKs for lost packets and RTCP
// receiver reports, and no transport-wide congestion control feedback. The SFU lowers a
// subscriber's simulcast layers when that feedback shows queuing delay; the recorder runs
// beside the SFU, so the delay it would report is its own CPU being busy (seen under
// TestRecordsTopSimulcastLayer with -race: recordings fell to 320x180), not a network that
// cannot carry the top layer. Without the feedback the SFU's estimate keeps its initial
// value and the recorder keeps the layer it asked for.
func receiveInterceptors() ([]interceptor.Factory, error) {
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("nack generator: %w", err)
	}
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, fmt.Errorf("receiver reports: %w", err)
	}
	return []interceptor.Factory{gen, rr}, nil
}
