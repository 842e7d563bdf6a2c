package synth

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// VideoClockRate is the RTP clock of every video codec WebRTC uses.
const VideoClockRate = 90000

// VideoParams describes one encoded video stream (one simulcast layer).
type VideoParams struct {
	Codec            string        // "vp8" or "h264"
	Bitrate          int           // bits per second, averaged over a keyframe interval
	FPS              int           // frames per second
	Width, Height    int           // written into keyframes (VP8 header, H.264 SPS)
	KeyframeInterval time.Duration // periodic keyframes; 0 means 2 s
	MaxPayload       int           // RTP payload bytes per packet; 0 means 1100
	// MinKeyframeGap throttles keyframes forced by RequestKeyframe, as real encoders do;
	// 0 means 300 ms.
	MinKeyframeGap time.Duration
}

// keyframeWeight is how many delta frames' worth of bytes a keyframe carries.
const keyframeWeight = 5

// Video generates the frames of one stream. NextFrame must be called from one goroutine;
// RequestKeyframe is safe from any.
type Video struct {
	p         VideoParams
	h264      bool
	keyEvery  int // frames
	keySize   int
	deltaSize int
	sinceKey  int
	keyReq    atomic.Bool
	lastKey   time.Time
	pictureID uint16
	frameNum  uint8
	frame     []byte
	bufs      [][]byte
	out       [][]byte
	sps, pps  []byte
}

// NewVideo validates p and returns a generator whose first frame is a keyframe.
func NewVideo(p VideoParams) (*Video, error) {
	if p.KeyframeInterval == 0 {
		p.KeyframeInterval = 2 * time.Second
	}
	if p.MaxPayload == 0 {
		p.MaxPayload = 1100
	}
	if p.MinKeyframeGap == 0 {
		p.MinKeyframeGap = 300 * time.Millisecond
	}
	codec := strings.ToLower(p.Codec)
	switch {
	case codec != "vp8" && codec != "h264":
		return nil, fmt.Errorf("synth: codec %q: want vp8 or h264", p.Codec)
	case p.Bitrate < 10_000 || p.Bitrate > 100_000_000:
		return nil, fmt.Errorf("synth: bitrate %d b/s out of range [10k, 100M]", p.Bitrate)
	case p.FPS < 1 || p.FPS > 120:
		return nil, fmt.Errorf("synth: fps %d out of range [1, 120]", p.FPS)
	case p.Width < 16 || p.Height < 16 || p.Width > 16383 || p.Height > 16383:
		return nil, fmt.Errorf("synth: dimensions %dx%d out of range", p.Width, p.Height)
	case p.KeyframeInterval < 0 || p.MaxPayload < 200:
		return nil, errors.New("synth: keyframe interval must be > 0 and max payload >= 200")
	}
	v := &Video{p: p, h264: codec == "h264"}
	v.keyEvery = max(1, int(p.KeyframeInterval.Seconds()*float64(p.FPS)))
	gopBytes := int(float64(p.Bitrate) / 8 * p.KeyframeInterval.Seconds())
	v.deltaSize = max(gopBytes/(v.keyEvery-1+keyframeWeight), 64)
	v.keySize = v.deltaSize * keyframeWeight
	v.frame = make([]byte, 0, v.keySize*2)
	if v.h264 {
		v.sps = h264SPS(p.Width, p.Height)
		v.pps = h264PPS()
	}
	v.keyReq.Store(true)
	return v, nil
}

// Params returns the stream's parameters with defaults applied.
func (v *Video) Params() VideoParams { return v.p }

// FrameInterval is the time between frames.
func (v *Video) FrameInterval() time.Duration { return time.Second / time.Duration(v.p.FPS) }

// TicksPerFrame is the RTP timestamp increment per frame.
func (v *Video) TicksPerFrame() uint32 { return uint32(VideoClockRate / v.p.FPS) }

// RequestKeyframe asks for a keyframe soon (the next frame, unless one was sent within
// MinKeyframeGap): what an encoder does on a PLI or FIR.
func (v *Video) RequestKeyframe() { v.keyReq.Store(true) }

// NextFrame returns the RTP payloads of the next frame, in order; the caller sets the
// marker bit on the last one. Each payload ends with StampSize bytes reserved for PutStamp.
// The slices are reused by the next call.
func (v *Video) NextFrame(now time.Time) (payloads [][]byte, keyframe bool) {
	keyframe = v.sinceKey >= v.keyEvery-1
	if !keyframe && v.keyReq.Load() && now.Sub(v.lastKey) >= v.p.MinKeyframeGap {
		keyframe = true
	}
	if keyframe {
		v.keyReq.Store(false)
		v.sinceKey = 0
		v.lastKey = now
	} else {
		v.sinceKey++
	}
	v.out = v.out[:0]
	if v.h264 {
		v.h264Frame(keyframe)
	} else {
		v.vp8Frame(keyframe)
	}
	v.pictureID = (v.pictureID + 1) & 0x7fff
	v.frameNum++
	return v.out, keyframe
}

// packet returns the i-th reusable packet buffer, empty.
func (v *Video) packet() []byte {
	i := len(v.out)
	if i == len(v.bufs) {
		v.bufs = append(v.bufs, make([]byte, 0, v.p.MaxPayload))
	}
	return v.bufs[i][:0]
}

// fill appends n filler bytes that contain no H.264 start-code prefix (00 00 0x).
func fill(b []byte, n int, seed uint8) []byte {
	for i := 0; i < n; i++ {
		b = append(b, 0x80|byte(i)^seed)
	}
	return b
}

// vp8Frame builds a VP8 frame (RFC 6386 §9.1) and packetizes it (RFC 7741 §4).
func (v *Video) vp8Frame(key bool) {
	size := v.deltaSize
	if key {
		size = v.keySize
	}
	f := v.frame[:0]
	hdr := 3
	if key {
		hdr = 10
	}
	firstPart := uint32(min(size-hdr, 1<<19-1))
	// Frame tag: bit 0 inverse key flag, bits 1-3 version 0, bit 4 show_frame, 5-23 size.
	tag := uint32(1<<4) | firstPart<<5
	if !key {
		tag |= 1
	}
	f = append(f, byte(tag), byte(tag>>8), byte(tag>>16))
	if key {
		w, h := uint16(v.p.Width), uint16(v.p.Height) // scale bits 0
		f = append(f, 0x9d, 0x01, 0x2a, byte(w), byte(w>>8), byte(h), byte(h>>8))
	}
	f = fill(f, size-len(f), v.frameNum)
	v.frame = f

	chunk := v.p.MaxPayload - 4 - StampSize
	for off := 0; off < len(f); off += chunk {
		end := min(off+chunk, len(f))
		b := v.packet()
		// Payload descriptor: X=1, S on the first packet, PID 0; I=1; 15-bit PictureID.
		b0 := byte(0x80)
		if off == 0 {
			b0 |= 0x10
		}
		b = append(b, b0, 0x80, 0x80|byte(v.pictureID>>8), byte(v.pictureID))
		b = append(b, f[off:end]...)
		b = append(b, make([]byte, StampSize)...)
		v.out = append(v.out, b)
	}
}

// h264Frame builds an access unit (SPS, PPS and an IDR slice, or a non-IDR slice) and
// packetizes it in packetization-mode 1: single NAL unit packets when a NAL fits, FU-A
// fragments otherwise (RFC 6184 §5.6, §5.8).
func (v *Video) h264Frame(key bool) {
	if key {
		v.h264NAL(v.sps)
		v.h264NAL(v.pps)
	}
	size := v.deltaSize
	nalHeader := byte(0x41) // nal_ref_idc 2, type 1: non-IDR slice
	if key {
		size = v.keySize
		nalHeader = 0x65 // nal_ref_idc 3, type 5: IDR slice
	}
	f := append(v.frame[:0], nalHeader)
	f = append(f, h264SliceHeader(key, v.frameNum)...)
	f = fill(f, size-len(f), v.frameNum)
	v.frame = f
	v.h264NAL(f)
}

func (v *Video) h264NAL(nal []byte) {
	room := v.p.MaxPayload - StampSize
	if len(nal) <= room {
		b := append(v.packet(), nal...)
		v.out = append(v.out, append(b, make([]byte, StampSize)...))
		return
	}
	indicator := nal[0]&0xe0 | 28 // F, NRI from the NAL; type 28 = FU-A
	typ := nal[0] & 0x1f
	body := nal[1:]
	chunk := room - 2
	for off := 0; off < len(body); off += chunk {
		end := min(off+chunk, len(body))
		fuHeader := typ
		if off == 0 {
			fuHeader |= 0x80 // S
		}
		if end == len(body) {
			fuHeader |= 0x40 // E
		}
		b := append(v.packet(), indicator, fuHeader)
		b = append(b, body[off:end]...)
		v.out = append(v.out, append(b, make([]byte, StampSize)...))
	}
}
