package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/pkg/access"
)

// Job is one recording to make.
type Job struct {
	// ID names the recording (an egress id, EG_...); objects go under KeyPrefix.
	ID   string `json:"id"`
	Room string `json:"room"`
	// KeyPrefix is the object-key folder of this recording, e.g. "classes/42/EG_abc";
	// empty means "recordings/<ID>".
	KeyPrefix string `json:"key_prefix,omitempty"`
	// Teacher is the identity whose camera is recorded; empty: the first camera published.
	Teacher string `json:"teacher,omitempty"`
	// VideoTrack and AudioTrack pin the recorded tracks by id; empty: the teacher's camera
	// and every audio track (mixed, up to Config.AudioSlots speakers).
	VideoTrack string `json:"video_track,omitempty"`
	AudioTrack string `json:"audio_track,omitempty"`
	// PlaylistName is the playlist's object name (default index.m3u8).
	PlaylistName string `json:"playlist_name,omitempty"`
}

// wantsVideo reports whether a subscribed video track is the one to record.
func (j Job) wantsVideo(pub *lksdk.RemoteTrackPublication, identity string) bool {
	if j.VideoTrack != "" {
		return pub.SID() == j.VideoTrack
	}
	return pub.Source() == livekit.TrackSource_CAMERA && (j.Teacher == "" || j.Teacher == identity)
}

// wantsAudio reports whether a subscribed audio track is the one to record.
func (j Job) wantsAudio(pub *lksdk.RemoteTrackPublication) bool {
	return j.AudioTrack == "" || pub.SID() == j.AudioTrack
}

func (j Job) prefix() string {
	if j.KeyPrefix != "" {
		return strings.TrimSuffix(j.KeyPrefix, "/")
	}
	return "recordings/" + j.ID
}

// PlaylistKey is the object key of the job's playlist.
func (j Job) PlaylistKey() string {
	if j.PlaylistName != "" {
		return j.prefix() + "/" + j.PlaylistName
	}
	return j.prefix() + "/" + PlaylistName
}

// epoch is one muxer run of a job on this recorder: a fresh start, or a takeover that
// continues after prior's segments with a discontinuity.
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

// media is what the session subscribed to.
type media struct {
	mu       sync.Mutex
	video    *webrtc.TrackRemote
	videoPub *lksdk.RemoteTrackPublication
	videoRP  *lksdk.RemoteParticipant
	changed  chan struct{} // closed and replaced on each change
}

func (m *media) notify() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// sink is the loopback socket a track's RTP is forwarded to; nil until ffmpeg runs.
type sink struct {
	conn *net.UDPConn
	pt   byte
}

// run records one epoch: it joins the room hidden, waits for the teacher's camera (and up
// to two seconds for audio), starts ffmpeg on loopback RTP, uploads each segment as ffmpeg
// completes it and the playlist after it, and on stop flushes and stores the VOD playlist.
func (s *Server) runEpoch(ctx context.Context, e epoch) (epochResult, error) {
	log := s.log.With("recording", e.job.ID, "room", e.job.Room)
	res := epochResult{segments: append([]Segment(nil), e.prior...)}
	epochNo, startNumber := nextEpoch(e.prior)
	dir := filepath.Join(s.cfg.SpoolDir, e.job.ID, strconv.Itoa(epochNo))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return res, fmt.Errorf("spool: %w", err)
	}
	defer os.RemoveAll(dir)

	m := &media{changed: make(chan struct{})}
	var videoSink atomic.Pointer[sink]
	var audioOn atomic.Bool
	mixer, err := newAudioMixer(s.cfg.AudioSlots)
	if err != nil {
		return res, err
	}
	defer mixer.close()
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
		m.mu.Lock()
		isVideo := track.Kind() == webrtc.RTPCodecTypeVideo && m.video == nil && e.job.wantsVideo(pub, rp.Identity())
		if isVideo {
			m.video, m.videoPub, m.videoRP = track, pub, rp
			m.notify()
		}
		m.mu.Unlock()
		if !isVideo {
			// Not recorded: stop the SFU sending it.
			_ = pub.SetSubscribed(false)
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			forward(track, &videoSink)
		}()
	}
	tok, err := access.NewToken{APIKey: s.cfg.LiveKit.APIKey, APISecret: s.cfg.LiveKit.APISecret,
		Room: e.job.Room, Identity: "recorder-" + e.job.ID, Name: "Recorder",
		Grant: &auth.VideoGrant{RoomJoin: true, Room: e.job.Room, Hidden: true, Recorder: true,
			CanPublish: ptr(false), CanPublishData: ptr(false), CanSubscribe: ptr(true)}}.Mint()
	if err != nil {
		return res, fmt.Errorf("recorder token: %w", err)
	}
	room, err := lksdk.ConnectToRoomWithToken(s.cfg.LiveKit.URL, tok, cb, lksdk.WithAutoSubscribe(true))
	if err != nil {
		return res, fmt.Errorf("join room %s: %w", e.job.Room, err)
	}
	leaveOnce := sync.OnceFunc(room.Disconnect)
	defer leaveOnce()

	// Wait for the camera: ffmpeg's inputs are fixed when it starts. Audio needs no wait,
	// the mixer's slots exist from the start and speakers join them at any time.
	var in muxInput
	for {
		m.mu.Lock()
		v, ch := m.video, m.changed
		m.mu.Unlock()
		if v != nil {
			in.VideoMime = v.Codec().MimeType
			break
		}
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case <-e.stop:
			return res, s.finishEmpty(ctx, e, &res)
		case <-ch:
		}
	}
	m.mu.Lock()
	rp, vpub := m.videoRP, m.videoPub
	m.mu.Unlock()
	vconn, vport, err := loopbackPair()
	if err != nil {
		return res, err
	}
	in.VideoPort = vport
	in.AudioPorts = mixer.ports()
	sdp, err := buildSDP(in)
	if err != nil {
		return res, err
	}
	sdpPath := filepath.Join(dir, "in.sdp")
	if err := os.WriteFile(sdpPath, []byte(sdp), 0o644); err != nil {
		return res, fmt.Errorf("spool: %w", err)
	}
	cmd := exec.Command(s.cfg.FFmpeg, ffmpegArgs(sdpPath, dir, in, s.cfg.Segment.Seconds(), startNumber, epochNo)...)
	cmd.Stderr = &logWriter{log: log}
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s: %w", s.cfg.FFmpeg, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	defer func() {
		if !killed {
			_ = cmd.Process.Kill()
			<-exited
		}
	}()
	videoSink.Store(&sink{conn: vconn, pt: videoPT})
	audioOn.Store(true)
	fillDone := make(chan struct{})
	go mixer.fill(fillDone)
	defer func() {
		close(fillDone)
		videoSink.Store(nil)
		audioOn.Store(false)
		vconn.Close()
	}()
	log.Info("recording", "epoch", epochNo, "start_number", startNumber, "video", in.VideoMime,
		"audio_slots", len(in.AudioPorts), "transcode", needsTranscode(in.VideoMime))

	up := &epochUploader{s: s, job: e.job, dir: dir, log: log, res: &res, onSegment: e.onSegment,
		discontinuity: len(e.prior) > 0}
	// Uploads run apart from the loop below, so a storage outage never delays keyframe
	// requests (ffmpeg keeps cutting segments into the spool meanwhile).
	upQuit := make(chan struct{})
	upDone := make(chan error, 1)
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				upDone <- ctx.Err()
				return
			case <-upQuit:
				upDone <- nil
				return
			case <-t.C:
			}
			if err := up.poll(ctx, false); err != nil {
				upDone <- err
				return
			}
		}
	}()
	upRunning := true
	defer func() {
		if upRunning {
			close(upQuit)
			<-upDone
		}
	}()
	// Ask for a keyframe at once (ffmpeg needs SPS/PPS and an IDR to start) and then every
	// segment duration so a copied stream can be cut on time.
	pliFast := time.NewTicker(500 * time.Millisecond)
	pliSeg := time.NewTicker(s.cfg.Segment)
	defer pliFast.Stop()
	defer pliSeg.Stop()
	ssrc := vpub.TrackRemote().SSRC()
	rp.WritePLI(ssrc)
	for {
		select {
		case <-ctx.Done():
			return res, ctx.Err()
		case err := <-exited:
			killed = true
			return res, fmt.Errorf("ffmpeg exited early: %v", err)
		case err := <-upDone:
			upRunning = false
			return res, err
		case <-pliFast.C:
			if up.stored.Load() == 0 {
				rp.WritePLI(ssrc)
			} else {
				pliFast.Stop()
			}
		case <-pliSeg.C:
			rp.WritePLI(ssrc)
		case <-e.stop:
			return s.finishEpoch(ctx, e, &res, finishParams{cmd: cmd, exited: exited, up: up,
				upQuit: upQuit, upDone: upDone, leave: leaveOnce, killed: &killed, upRunning: &upRunning, log: log})
		}
	}
}

type finishParams struct {
	cmd       *exec.Cmd
	exited    chan error
	up        *epochUploader
	upQuit    chan struct{}
	upDone    chan error
	leave     func()
	killed    *bool
	upRunning *bool
	log       *slog.Logger
}

// finishEpoch ends an epoch gracefully: ffmpeg is interrupted while media still flows (it
// stops at its next packet and writes the last segment; with no packet it would wait out
// its 10 s read timeout, and a second signal would skip the flush), then the room is left,
// what is left in the spool is uploaded and the VOD playlist stored, retrying for up to
// FinishTimeout.
func (s *Server) finishEpoch(ctx context.Context, e epoch, res *epochResult, p finishParams) (epochResult, error) {
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.exited:
	case <-time.After(12 * time.Second):
		p.log.Warn("ffmpeg did not stop on SIGINT; killed (the last segment is lost)")
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	*p.killed = true
	p.leave()
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.FinishTimeout)
	defer cancel()
	close(p.upQuit)
	*p.upRunning = false
	select {
	case err := <-p.upDone:
		if err != nil {
			return *res, err
		}
	case <-fctx.Done():
		return *res, fmt.Errorf("uploads did not finish within %v", s.cfg.FinishTimeout)
	}
	if err := p.up.poll(fctx, true); err != nil {
		return *res, err
	}
	if err := s.putPlaylist(fctx, e.job, res.segments, true); err != nil {
		return *res, err
	}
	res.finished = true
	p.log.Info("recording finished", "segments", len(res.segments))
	return *res, nil
}

// finishEmpty ends a job stopped before any media arrived: the playlist of what earlier
// epochs stored (possibly none) is stored as VOD.
func (s *Server) finishEmpty(ctx context.Context, e epoch, res *epochResult) error {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.FinishTimeout)
	defer cancel()
	if err := s.putPlaylist(fctx, e.job, res.segments, true); err != nil {
		return err
	}
	res.finished = true
	return nil
}

func (s *Server) putPlaylist(ctx context.Context, job Job, segs []Segment, final bool) error {
	return putWithRetry(ctx, s.store, s.retry, s.m, s.log, job.PlaylistKey(), RenderPlaylist(segs, final),
		PlaylistContentType, "no-cache")
}

// epochUploader moves ffmpeg's finished files to storage in order: the init segment, each
// media segment, then the playlist naming it.
type epochUploader struct {
	s             *Server
	job           Job
	dir           string
	log           *slog.Logger
	res           *epochResult
	onSegment     func(Segment)
	done          int // entries of ffmpeg's playlist already uploaded
	stored        atomic.Int64
	initStored    bool // this epoch's init segment is stored
	discontinuity bool // the next segment is the first after a takeover
}

func (u *epochUploader) poll(ctx context.Context, final bool) error {
	raw, err := os.ReadFile(filepath.Join(u.dir, "local.m3u8"))
	if errors.Is(err, os.ErrNotExist) {
		if final {
			u.log.Warn("ffmpeg wrote no segment")
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	entries, init, _, err := parseLocalPlaylist(raw)
	if err != nil {
		return err
	}
	if err := u.checkSpool(); err != nil {
		return err
	}
	for _, e := range entries[min(u.done, len(entries)):] {
		seq, ok := segmentSeq(e.URI)
		if !ok {
			return fmt.Errorf("ffmpeg named a segment %q", e.URI)
		}
		if !u.initStored {
			data, err := os.ReadFile(filepath.Join(u.dir, init))
			if err != nil {
				return fmt.Errorf("spool: %w", err)
			}
			if err := putWithRetry(ctx, u.s.store, u.s.retry, u.s.m, u.log, u.job.prefix()+"/"+init, data,
				InitContentType, "max-age=31536000"); err != nil {
				return err
			}
			u.initStored = true
		}
		path := filepath.Join(u.dir, e.URI)
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		st, _ := os.Stat(path)
		if err := putWithRetry(ctx, u.s.store, u.s.retry, u.s.m, u.log, u.job.prefix()+"/"+e.URI, data,
			SegmentContentType, "max-age=31536000"); err != nil {
			return err
		}
		if st != nil {
			u.s.m.uploadDelay.Observe(time.Since(st.ModTime()).Seconds())
		}
		seg := Segment{Seq: seq, URI: e.URI, Init: init, Duration: e.Duration, Bytes: int64(len(data)),
			Discontinuity: u.discontinuity}
		u.discontinuity = false
		u.res.segments = append(u.res.segments, seg)
		u.done++
		u.stored.Add(1)
		u.s.m.segments.Inc()
		_ = os.Remove(path)
		if !final {
			if err := u.s.putPlaylist(ctx, u.job, u.res.segments, false); err != nil {
				return err
			}
		}
		if u.onSegment != nil {
			u.onSegment(seg)
		}
	}
	return u.checkSpool()
}

// checkSpool meters the bytes waiting for upload and fails the epoch past the bound.
func (u *epochUploader) checkSpool() error {
	ents, err := os.ReadDir(u.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	var n int64
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), "seg_") {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
	}
	u.s.m.spoolBytes.Set(float64(n))
	if n > u.s.cfg.SpoolMaxBytes {
		return fmt.Errorf("spool holds %d bytes, over spool_max_bytes %d", n, u.s.cfg.SpoolMaxBytes)
	}
	return nil
}

// nextEpoch numbers a new muxer run after prior segments: a fresh init segment name and the
// segment number after the last one stored.
func nextEpoch(prior []Segment) (epochNo, startNumber int) {
	if len(prior) == 0 {
		return 0, 0
	}
	last := prior[len(prior)-1]
	n := 0
	if v, ok := strings.CutPrefix(strings.TrimSuffix(last.Init, ".mp4"), "init_"); ok {
		n, _ = strconv.Atoi(v)
	}
	return n + 1, last.Seq + 1
}

// forward copies a track's RTP to the sink, rewriting the payload type to the one the SDP
// declares. Packets are dropped while no sink is set. It returns when the track ends.
func forward(track *webrtc.TrackRemote, dst *atomic.Pointer[sink]) {
	buf := make([]byte, 1500)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		sk := dst.Load()
		if sk == nil || n < 12 {
			continue
		}
		buf[1] = buf[1]&0x80 | sk.pt
		// Errors (ffmpeg not yet listening) lose a packet, as the network would.
		_, _ = sk.conn.Write(buf[:n])
	}
}

// loopbackPair finds an even UDP port on 127.0.0.1 whose successor (RTCP) is also free,
// and returns a socket connected to it for sending. ffmpeg binds the pair moments later.
func loopbackPair() (*net.UDPConn, int, error) {
	for range 50 {
		a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, 0, fmt.Errorf("loopback port: %w", err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 {
			a.Close()
			continue
		}
		b, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + 1})
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		c, err := net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		if err != nil {
			return nil, 0, fmt.Errorf("loopback port: %w", err)
		}
		_ = c.SetWriteBuffer(1 << 20)
		return c, p, nil
	}
	return nil, 0, errors.New("loopback port: no free even/odd pair found")
}

// logWriter turns ffmpeg's stderr lines into warn logs, at most 20 lines per minute: a
// damaged stream makes ffmpeg print a line per frame.
type logWriter struct {
	log    *slog.Logger
	mu     sync.Mutex
	window time.Time
	n      int
}

func (w *logWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if l == "" {
			continue
		}
		if now := time.Now(); now.Sub(w.window) > time.Minute {
			if w.n > 20 {
				w.log.Warn("ffmpeg lines suppressed", "lines", w.n-20)
			}
			w.window, w.n = now, 0
		}
		w.n++
		if w.n <= 20 {
			w.log.Warn("ffmpeg", "line", l)
		}
	}
	return len(b), nil
}

func ptr[T any](v T) *T { return &v }
