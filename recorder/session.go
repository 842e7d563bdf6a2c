package recorder

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
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

// reservePair finds an even UDP port on 127.0.0.1 whose successor (RTCP) is also free, for
// ffmpeg to bind moments later. Another socket may take it in between: mux retries ffmpeg
// with fresh ports when it exits at once.
func reservePair() (int, error) {
	for range 50 {
		a, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, fmt.Errorf("loopback port: %w", err)
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
		return p, nil
	}
	return 0, errors.New("loopback port: no free even/odd pair found")
}

// logWriter turns ffmpeg's stderr lines into warn logs, at most 20 lines per minute (a
// damaged stream makes ffmpeg print a line per frame), and keeps the last lines for the
// error when ffmpeg fails.
type logWriter struct {
	log    *slog.Logger
	mu     sync.Mutex
	window time.Time
	n      int
	tail   []string
}

// last returns ffmpeg's last few stderr lines.
func (w *logWriter) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.tail, " | ")
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
		w.tail = append(w.tail, l)
		if len(w.tail) > 5 {
			w.tail = w.tail[1:]
		}
		w.n++
		if w.n <= 20 {
			w.log.Warn("ffmpeg", "line", l)
		}
	}
	return len(b), nil
}

func ptr[T any](v T) *T { return &v }
