package recorder

import (
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// sink is where a track's RTP goes while one muxer runs: ffmpeg's port on loopback,
// written through the session's one sending socket.
//
// It drops the picture until a keyframe starts it: ffmpeg cannot use H.264 before its SPS
// and PPS, and a VP8 stream joined mid-GOP leaves its probe without a picture size or frame
// rate (it then guessed the RTP clock as the frame rate and duplicated frames by the
// thousand into the transcoder: TestVP8IsTranscoded's flake). Which keyframe may start it,
// and when a later one ends it (another size: another simulcast layer), is keyframeAction.
//
// Its fields are used by the one goroutine forwarding the track, except resized and
// newSize, which the muxer reads once resized is closed.
type sink struct {
	conn     *net.UDPConn
	addr     *net.UDPAddr
	pt       byte
	keyframe func(payload []byte) bool    // nil: no gate, every packet passes
	size     func(payload []byte) picSize // nil: sizes unknown
	top      picSize                      // the publication's largest size
	accept   picSize                      // a size to start on at once
	// transcoded: the muxer transcodes the picture (it scales to its first size)
	transcoded bool
	created    time.Time
	onKey      func() // called once the first packet passes

	started bool
	run     picSize // the size the muxer's picture started with
	stopped bool    // a keyframe of another size came: nothing more goes to this muxer

	resized chan struct{} // closed when stopped
	newSize picSize       // the size that stopped it; read after resized is closed
}

// sinkParams describe the picture a sink feeds to one muxer.
type sinkParams struct {
	conn *net.UDPConn
	port int
	pt   byte
	mime string
	// top is the publication's largest announced size (zero: unknown); accept a size to
	// start on without waiting for top (the size that ended the previous muxer).
	top, accept picSize
	onKey       func()
}

func newSink(p sinkParams) *sink {
	return &sink{conn: p.conn, addr: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p.port}, pt: p.pt,
		keyframe: keyframeStart(p.mime), size: keyframeSize(p.mime), top: p.top, accept: p.accept,
		transcoded: needsTranscode(p.mime), created: time.Now(), onKey: sync.OnceFunc(p.onKey), resized: make(chan struct{})}
}

// admit decides whether an RTP packet goes to the muxer.
func (sk *sink) admit(pkt []byte, h *rtp.Header) bool {
	if sk.stopped {
		return false
	}
	if sk.keyframe == nil {
		sk.onKey()
		return true
	}
	hn, err := h.Unmarshal(pkt)
	if err != nil || !sk.keyframe(pkt[hn:]) {
		return sk.started
	}
	var size picSize
	if sk.size != nil {
		size = sk.size(pkt[hn:])
	}
	switch keyframeAction(sk.started, sk.transcoded, sk.run, size, sk.top, sk.accept, time.Since(sk.created)) {
	case keySkip:
		return false
	case keyStart:
		sk.started, sk.run = true, size
		sk.onKey()
	case keyResize:
		sk.stopped, sk.newSize = true, size
		close(sk.resized)
		return false
	}
	return true
}

// keyframeStart returns the keyframe test for a picture's codec (nil: none known).
func keyframeStart(mime string) func([]byte) bool {
	switch strings.ToLower(mime) {
	case "video/h264":
		return h264KeyframeStart
	case "video/vp8":
		return vp8KeyframeStart
	}
	return nil
}

// vp8KeyframeStart reports whether an RTP payload (RFC 7741 §4.2) starts a VP8 keyframe:
// the start of partition 0 (S set, PID 0) whose payload header has P (inverse key frame
// flag, RFC 6386 §9.1) clear.
func vp8KeyframeStart(p []byte) bool {
	i, ok := vp8PayloadStart(p)
	return ok && len(p) > i && p[i]&0x01 == 0
}

// vp8PayloadStart returns where the VP8 payload begins after the RTP payload descriptor
// (RFC 7741 §4.2), if the packet starts partition 0 (S set, PID 0).
func vp8PayloadStart(p []byte) (int, bool) {
	if len(p) < 1 || p[0]&0x10 == 0 || p[0]&0x07 != 0 {
		return 0, false
	}
	i := 1
	if p[0]&0x80 != 0 { // X: extension byte
		if len(p) < 2 {
			return 0, false
		}
		ext := p[1]
		i = 2
		if ext&0x80 != 0 { // I: picture id, 7 or 15 bits
			if len(p) <= i {
				return 0, false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K: TID/Y/KEYIDX
			i++
		}
	}
	return i, true
}

// forward copies a track's RTP to the sink, rewriting the payload type to the one the SDP
// declares. Packets are dropped while no sink is set. It returns when the track ends.
func forward(track *webrtc.TrackRemote, dst *atomic.Pointer[sink]) {
	buf := make([]byte, 1500)
	var h rtp.Header
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			return
		}
		sk := dst.Load()
		if sk == nil || n < 12 || !sk.admit(buf[:n], &h) {
			continue
		}
		buf[1] = buf[1]&0x80 | sk.pt
		// Errors (ffmpeg not yet listening) lose a packet, as the network would.
		_, _ = sk.conn.WriteToUDP(buf[:n], sk.addr)
	}
}

// h264KeyframeStart reports whether an RTP payload (RFC 6184) begins an access unit a
// decoder can start from, which for WebRTC's in-band parameter sets means one that starts
// with an SPS (type 7): as a single NAL unit, first in a STAP-A (type 24), or starting an
// FU-A (type 28). An IDR without the SPS before it is useless to a muxer just started.
func h264KeyframeStart(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	switch p[0] & 0x1f {
	case 7:
		return true
	case 24: // STAP-A: 16-bit size, then the first NAL header
		return len(p) >= 4 && p[3]&0x1f == 7
	case 28: // FU-A: start bit and the fragmented NAL's type
		return p[1]&0x80 != 0 && p[1]&0x1f == 7
	}
	return false
}
