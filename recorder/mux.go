package recorder

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// mux runs one ffmpeg over loopback RTP for one picture source (plus the audio mix) and
// uploads what it writes, until the job stops (it then flushes and stores the VOD
// playlist), the picture changes (it flushes and returns muxSwitched), or ctx ends.
func (s *Server) mux(ctx context.Context, r muxRun) (muxOutcome, error) {
	epochNo, startNumber := nextEpoch(r.res.segments)
	dir := filepath.Join(s.cfg.SpoolDir, r.job.ID, strconv.Itoa(epochNo))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("spool: %w", err)
	}
	defer os.RemoveAll(dir)
	in := muxInput{VideoMime: r.src.track.Codec().MimeType}
	sdpPath := filepath.Join(dir, "in.sdp")
	var cmd *exec.Cmd
	var exited chan error
	// ffmpeg binds the reserved ports after we released them; if something took one in
	// between, ffmpeg exits at once: try again with fresh ports.
	for attempt := 1; ; attempt++ {
		var err error
		if in.VideoPort, err = reservePair(); err != nil {
			return 0, err
		}
		if in.AudioPorts, err = r.mixer.reserve(); err != nil {
			return 0, err
		}
		sdp, err := buildSDP(in)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(sdpPath, []byte(sdp), 0o644); err != nil {
			return 0, fmt.Errorf("spool: %w", err)
		}
		stderr := &logWriter{log: r.log}
		cmd = exec.Command(s.cfg.FFmpeg, ffmpegArgs(sdpPath, dir, in, s.cfg.Segment.Seconds(), startNumber, epochNo)...)
		cmd.Stderr = stderr
		if err := cmd.Start(); err != nil {
			return 0, fmt.Errorf("start %s: %w", s.cfg.FFmpeg, err)
		}
		exited = make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case err := <-exited:
			if attempt < 3 {
				r.log.Warn("ffmpeg exited at start; retrying with fresh ports", "err", err, "stderr", stderr.last())
				continue
			}
			return 0, fmt.Errorf("ffmpeg exited at start: %v: %s", err, stderr.last())
		case <-time.After(300 * time.Millisecond):
		}
		break
	}
	ff := &ffmpegProc{cmd: cmd, exited: exited}
	defer ff.kill()
	// Audio (speakers and silence) starts with the picture's first keyframe: ffmpeg probes
	// its inputs for a few seconds of media, and audio flowing alone would end the probe
	// before the video's SPS arrived.
	fillDone := make(chan struct{})
	top := topSize(r.src.pub.TrackInfo())
	sk := newSink(sinkParams{conn: r.sender, port: in.VideoPort, pt: videoPT, mime: in.VideoMime,
		top: top, accept: r.src.accept, onKey: func() {
			r.audioOn.Store(true)
			go r.mixer.fill(fillDone)
		}})
	r.src.sink.Store(sk)
	defer func() {
		r.src.sink.Store(nil)
		r.audioOn.Store(false)
		close(fillDone)
	}()
	r.log.Info("recording", "epoch", epochNo, "start_number", startNumber, "video", in.VideoMime,
		"screen", r.src.screen, "top_layer", fmt.Sprintf("%dx%d", top.w, top.h), "audio_slots", len(in.AudioPorts), "transcode", needsTranscode(in.VideoMime))

	up := &epochUploader{s: s, job: r.job, dir: dir, log: r.log, res: r.res, onSegment: r.onSegment,
		discontinuity: r.discontinuity}
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
	ssrc := r.src.track.SSRC()
	r.src.rp.WritePLI(ssrc)
	_, changed := r.media.current()
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case err := <-exited:
			ff.done = true
			err = fmt.Errorf("ffmpeg exited early: %v: %s", err, cmd.Stderr.(*logWriter).last())
			if up.stored.Load() == 0 {
				// Typically the probe ended without the picture's parameter sets (a lost
				// keyframe): nothing was stored yet, so the epoch may simply start over.
				return 0, fmt.Errorf("%w: %w", errMuxStart, err)
			}
			return 0, err
		case err := <-upDone:
			upRunning = false
			return 0, err
		case <-pliFast.C:
			if up.stored.Load() == 0 {
				r.src.rp.WritePLI(ssrc)
			} else {
				pliFast.Stop()
			}
		case <-pliSeg.C:
			r.src.rp.WritePLI(ssrc)
		case <-changed:
			var now *videoSource
			now, changed = r.media.current()
			if now == r.src {
				continue
			}
			r.log.Info("picture changed; starting a new muxer", "screen", now != nil && now.screen)
			upRunning = false
			return muxSwitched, s.flush(ctx, r, ff, up, upQuit, upDone, false)
		case <-sk.resized:
			// Another layer (or the publisher's own rescaling): a copying muxer cannot
			// change size, so the next one starts on the new size.
			r.src.accept = sk.newSize
			r.log.Info("picture size changed; starting a new muxer", "from", fmt.Sprintf("%dx%d", sk.run.w, sk.run.h),
				"to", fmt.Sprintf("%dx%d", sk.newSize.w, sk.newSize.h))
			upRunning = false
			return muxSwitched, s.flush(ctx, r, ff, up, upQuit, upDone, false)
		case <-r.stop:
			upRunning = false
			if err := s.flush(ctx, r, ff, up, upQuit, upDone, true); err != nil {
				return 0, err
			}
			return muxFinished, nil
		}
	}
}

// errMuxStart marks a muxer that failed before storing anything; its epoch retries it.
var errMuxStart = errors.New("muxer failed before its first segment")

// ffmpegProc is a running muxer; kill ends it unless it already exited.
type ffmpegProc struct {
	cmd    *exec.Cmd
	exited chan error
	done   bool
}

func (p *ffmpegProc) kill() {
	if !p.done {
		_ = p.cmd.Process.Kill()
		<-p.exited
		p.done = true
	}
}

// flush ends a muxer gracefully: ffmpeg is interrupted while media still flows (it stops
// at its next packet and writes the last segment; with no packet it would wait out its
// 10 s read timeout, and a second signal would skip the flush), what is left in the spool
// is uploaded, and, when final, the room is left and the VOD playlist stored, retrying for
// up to FinishTimeout.
func (s *Server) flush(ctx context.Context, r muxRun, ff *ffmpegProc, up *epochUploader,
	upQuit chan struct{}, upDone chan error, final bool) error {
	_ = ff.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-ff.exited:
		ff.done = true
	case <-time.After(12 * time.Second):
		r.log.Warn("ffmpeg did not stop on SIGINT; killed (the last segment is lost)")
		ff.kill()
	}
	if final {
		r.leave()
	}
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.FinishTimeout)
	defer cancel()
	close(upQuit)
	select {
	case err := <-upDone:
		if err != nil {
			return err
		}
	case <-fctx.Done():
		return fmt.Errorf("uploads did not finish within %v", s.cfg.FinishTimeout)
	}
	if err := up.poll(fctx, true); err != nil {
		return err
	}
	if !final {
		return s.putPlaylist(fctx, r.job, r.res.segments, false)
	}
	if err := s.putPlaylist(fctx, r.job, r.res.segments, true); err != nil {
		return err
	}
	r.res.finished = true
	r.log.Info("recording finished", "segments", len(r.res.segments))
	return nil
}

// finishEmpty ends a job stopped while no picture was being recorded: the playlist of what
// is stored (possibly nothing) becomes the VOD.
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
