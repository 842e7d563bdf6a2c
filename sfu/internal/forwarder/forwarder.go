// Package forwarder is the pure decision core of the SFU media path: for each
// incoming RTP packet of a published track it decides whether one subscriber
// gets it and, if so, with which sequence number and timestamp.
//
// It does no I/O, reads no clock and starts no goroutine, so every decision is
// reproducible from a table of inputs. The DownTrack in package media owns one
// Forwarder per subscriber and serialises calls to it.
//
// Guarantees to the subscriber, whatever the publisher or the subscriber's
// settings do (layer switches, publisher mute, subscriber pause):
//   - output sequence numbers are contiguous: a gap appears only where the
//     forwarded layer itself lost a packet (so the subscriber's NACK is
//     meaningful and can be mapped back with Lookup);
//   - output timestamps never go backwards across a switch or a resume: the
//     new segment continues from the last forwarded timestamp plus the wall
//     time elapsed between the two packets' arrivals;
//   - video starts, switches layer and resumes only at a keyframe.
package forwarder

import "fmt"

// Kind tells the Forwarder whether it may start anywhere (audio) or must wait
// for a keyframe (video).
type Kind uint8

// Kinds of track.
const (
	Audio Kind = iota + 1
	Video
)

// MaxLayers is the number of simulcast layers a track may have.
const MaxLayers = 3

// historySize is how many (layer, offset) segments Lookup remembers. A segment
// starts at each layer switch or resume; 16 covers far more switches than fit in
// the retransmission window.
const historySize = 16

// Packet is what the Forwarder needs to know about one incoming RTP packet.
type Packet struct {
	Layer    int    // simulcast layer 0..MaxLayers-1 (0 for non-simulcast)
	ExtSeq   uint64 // extended sequence number within its layer (never wraps)
	TS       uint32 // RTP timestamp as received
	Arrival  int64  // arrival time, nanoseconds on any monotonic-enough clock
	Keyframe bool   // the packet starts a decodable keyframe

	// VP8 picture numbering (RFC 7741 §4.2), kept continuous across
	// segments like sequence numbers; zero values when absent.
	HasPictureID bool
	PictureID    uint16
	PictureMask  uint16 // 0x7f or 0x7fff: the field's width
	HasTL0PicIdx bool
	TL0PicIdx    uint8
}

// String formats a packet for test failure messages.
func (p Packet) String() string {
	return fmt.Sprintf("{L%d seq=%d ts=%d t=%d kf=%t}", p.Layer, p.ExtSeq, p.TS, p.Arrival, p.Keyframe)
}

// Drop reasons, for stats and tests.
type Reason uint8

// Reasons a packet is dropped (Forwarded when it is not).
const (
	Forwarded     Reason = iota
	Paused               // subscriber disabled the track
	Muted                // publisher muted the track
	OtherLayer           // not the layer being forwarded
	WaitKeyframe         // waiting for a keyframe to start, resume or switch
	BeforeSegment        // late packet from before the current segment began
)

// String names the reason, for logs and test messages.
func (r Reason) String() string {
	switch r {
	case Forwarded:
		return "forwarded"
	case Paused:
		return "paused"
	case Muted:
		return "muted"
	case OtherLayer:
		return "other-layer"
	case WaitKeyframe:
		return "wait-keyframe"
	case BeforeSegment:
		return "before-segment"
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// Result is the decision for one packet.
type Result struct {
	Forward bool
	Seq     uint16 // munged sequence number (valid when Forward)
	TS      uint32 // munged timestamp (valid when Forward)
	// Switched is set on the first packet of a new segment (start, layer
	// switch, resume): the DownTrack may note the layer change.
	Switched bool
	// NeedKeyframe asks the caller to request a keyframe on Layer (throttled
	// by the caller): the Forwarder is waiting for one.
	NeedKeyframe bool
	// KeyframeLayer is the layer a keyframe is wanted on when NeedKeyframe.
	KeyframeLayer int
	Reason        Reason
	// Munged VP8 numbering, when the packet has it.
	PictureID uint16
	TL0PicIdx uint8
}

// String formats a decision for test failure messages.
func (r Result) String() string {
	if !r.Forward {
		return fmt.Sprintf("drop(%v kf=%t/L%d)", r.Reason, r.NeedKeyframe, r.KeyframeLayer)
	}
	if r.NeedKeyframe {
		return fmt.Sprintf("fwd(seq=%d ts=%d sw=%t kf=L%d)", r.Seq, r.TS, r.Switched, r.KeyframeLayer)
	}
	if r.PictureID != 0 || r.TL0PicIdx != 0 {
		return fmt.Sprintf("fwd(seq=%d ts=%d sw=%t pic=%d tl0=%d)", r.Seq, r.TS, r.Switched, r.PictureID, r.TL0PicIdx)
	}
	return fmt.Sprintf("fwd(seq=%d ts=%d sw=%t)", r.Seq, r.TS, r.Switched)
}

// Params configures a Forwarder.
type Params struct {
	Kind      Kind
	ClockRate uint32 // RTP clock rate of the codec, e.g. 90000 or 48000
}

// segment maps a run of output sequence numbers to one input layer.
type segment struct {
	layer     int
	inStart   uint64 // first input ext seq of the segment
	outStart  uint64 // first output ext seq of the segment
	seqOffset uint64 // in = out + seqOffset (mod 2^64)
	tsOffset  uint32 // outTS = inTS - tsOffset
	picOffset uint16 // out PictureID = in - picOffset (masked)
	tl0Offset uint8  // out TL0PICIDX = in - tl0Offset
}

// Forwarder decides, per packet, what one subscriber receives. Not safe for
// concurrent use; the zero value is not usable, call New.
type Forwarder struct {
	p Params

	enabled bool // subscriber wants the track
	muted   bool // publisher muted it
	target  int  // highest layer the subscriber should get now
	current int  // layer being forwarded, -1 when none

	started bool // something was forwarded already
	resync  bool // next forwarded packet starts a new segment

	seg     segment
	history [historySize]segment
	nhist   int // number of valid history entries
	hnext   int // next history slot to write

	outHigh     uint64 // highest output ext seq forwarded (valid when started)
	lastTS      uint32 // output timestamp of outHigh
	lastArrival int64  // arrival of the packet that produced outHigh

	havePic, haveTL0 bool
	lastPic          uint16 // output PictureID of outHigh
	lastTL0          uint8  // output TL0PICIDX of outHigh
}

// New returns a Forwarder that is enabled, unmuted, targets the top layer and
// has forwarded nothing yet.
func New(p Params) *Forwarder {
	if p.ClockRate == 0 {
		p.ClockRate = 90000
	}
	return &Forwarder{p: p, enabled: true, target: MaxLayers - 1, current: -1}
}

// SetEnabled pauses (false) or resumes (true) forwarding for the subscriber.
// Resuming video waits for a keyframe.
func (f *Forwarder) SetEnabled(on bool) {
	if f.enabled == on {
		return
	}
	f.enabled = on
	if !on {
		f.pause()
	}
}

// SetMuted records the publisher's mute state; while muted nothing is
// forwarded, and unmuting resumes like SetEnabled(true).
func (f *Forwarder) SetMuted(muted bool) {
	if f.muted == muted {
		return
	}
	f.muted = muted
	if muted {
		f.pause()
	}
}

// Restart forgets everything forwarded so far, keeping the settings (enabled,
// muted, target layer). Use it only when nothing forwarded reached the
// subscriber (its transport was not ready yet), so that the stream starts
// afresh at the next keyframe with no sequence gap.
func (f *Forwarder) Restart() {
	*f = Forwarder{p: f.p, enabled: f.enabled, muted: f.muted, target: f.target, current: -1}
}

// Resync makes the next forwarded packet start a new segment (video: at a
// keyframe), keeping output numbering continuous. Use it when the input
// stream of the current layer restarted (new SSRC, sequence numbers reset).
func (f *Forwarder) Resync() {
	if f.current >= 0 {
		f.pause()
	}
}

func (f *Forwarder) pause() {
	f.current = -1
	f.resync = true
}

// SetTargetLayer sets the layer the subscriber should receive. The switch
// happens at the next keyframe of that layer; until then the current layer
// keeps flowing. Out-of-range values are clamped.
func (f *Forwarder) SetTargetLayer(layer int) {
	f.target = clampLayer(layer)
}

// TargetLayer returns the layer the Forwarder is trying to forward.
func (f *Forwarder) TargetLayer() int { return f.target }

// CurrentLayer returns the layer being forwarded, or -1 when none (not started,
// paused, muted).
func (f *Forwarder) CurrentLayer() int { return f.current }

// Enabled reports whether the subscriber wants the track.
func (f *Forwarder) Enabled() bool { return f.enabled }

func clampLayer(l int) int {
	if l < 0 {
		return 0
	}
	if l >= MaxLayers {
		return MaxLayers - 1
	}
	return l
}

// Forward decides what to do with p.
func (f *Forwarder) Forward(p Packet) Result {
	if !f.enabled {
		return Result{Reason: Paused}
	}
	if f.muted {
		return Result{Reason: Muted}
	}
	if f.current < 0 {
		return f.start(p)
	}
	if p.Layer != f.current {
		if p.Layer == f.target && (p.Keyframe || f.p.Kind == Audio) {
			return f.begin(p)
		}
		r := Result{Reason: OtherLayer}
		if f.target != f.current {
			r.NeedKeyframe, r.KeyframeLayer = true, f.target
		}
		return r
	}
	if p.ExtSeq < f.seg.inStart {
		return Result{Reason: BeforeSegment}
	}
	r := f.emit(p)
	if f.target != f.current && f.p.Kind == Video {
		r.NeedKeyframe, r.KeyframeLayer = true, f.target
	}
	return r
}

// start handles a packet while nothing is being forwarded: audio starts on
// any packet; video on a keyframe of the target layer or, so that a late
// joiner sees something quickly, of any lower layer (then switches up at the
// target's next keyframe).
func (f *Forwarder) start(p Packet) Result {
	if f.p.Kind == Audio {
		if p.Layer != f.target && p.Layer > f.target {
			return Result{Reason: OtherLayer}
		}
		return f.begin(p)
	}
	if p.Keyframe && p.Layer <= f.target {
		return f.begin(p)
	}
	return Result{Reason: WaitKeyframe, NeedKeyframe: true, KeyframeLayer: f.target}
}

// begin starts a new segment on p's layer with p as its first packet.
func (f *Forwarder) begin(p Packet) Result {
	var outStart uint64
	var ts uint32
	if !f.started {
		// First packet ever: pass sequence number and timestamp through.
		outStart = p.ExtSeq & 0xffff
		ts = p.TS
	} else {
		outStart = f.outHigh + 1
		ts = f.lastTS + f.elapsedTicks(p.Arrival)
	}
	if f.started {
		f.history[f.hnext] = f.seg
		f.hnext = (f.hnext + 1) % historySize
		if f.nhist < historySize {
			f.nhist++
		}
	}
	f.seg = segment{
		layer:     p.Layer,
		inStart:   p.ExtSeq,
		outStart:  outStart,
		seqOffset: p.ExtSeq - outStart,
		tsOffset:  p.TS - ts,
	}
	// The new segment's first picture follows the last one sent.
	if p.HasPictureID && f.havePic {
		f.seg.picOffset = p.PictureID - (f.lastPic+1)&p.PictureMask
	}
	if p.HasTL0PicIdx && f.haveTL0 {
		f.seg.tl0Offset = p.TL0PicIdx - (f.lastTL0 + 1)
	}
	f.current = p.Layer
	f.resync = false
	r := f.emit(p)
	r.Switched = true
	return r
}

// elapsedTicks converts the wall time since the last forwarded packet into RTP
// ticks, at least 1 so that timestamps strictly advance across a segment
// boundary.
func (f *Forwarder) elapsedTicks(arrival int64) uint32 {
	d := arrival - f.lastArrival
	if d <= 0 {
		return 1
	}
	ticks := uint64(d) * uint64(f.p.ClockRate) / 1e9
	if ticks == 0 {
		return 1
	}
	if ticks > 1<<30 {
		ticks = 1 << 30
	}
	return uint32(ticks)
}

func (f *Forwarder) emit(p Packet) Result {
	out := p.ExtSeq - f.seg.seqOffset
	r := Result{Forward: true, Seq: uint16(out), TS: p.TS - f.seg.tsOffset}
	if p.HasPictureID {
		r.PictureID = (p.PictureID - f.seg.picOffset) & p.PictureMask
	}
	if p.HasTL0PicIdx {
		r.TL0PicIdx = p.TL0PicIdx - f.seg.tl0Offset
	}
	if !f.started || out > f.outHigh {
		f.outHigh = out
		f.lastTS = r.TS
		f.lastArrival = p.Arrival
		f.started = true
		if p.HasPictureID {
			f.lastPic, f.havePic = r.PictureID, true
		}
		if p.HasTL0PicIdx {
			f.lastTL0, f.haveTL0 = r.TL0PicIdx, true
		}
	}
	return r
}

// Origin locates a forwarded packet in its input stream.
type Origin struct {
	Layer     int    // layer it came from
	ExtSeq    uint64 // its extended sequence number in that layer
	TSOffset  uint32 // output timestamp = input timestamp - TSOffset
	PicOffset uint16 // output VP8 PictureID = input - PicOffset (masked)
	TL0Offset uint8  // output VP8 TL0PICIDX = input - TL0Offset
}

// Lookup maps an output sequence number (from a subscriber's NACK) back to the
// packet it was forwarded from. ok is false when the number was never
// forwarded or is too old to be mapped.
func (f *Forwarder) Lookup(seq uint16) (o Origin, ok bool) {
	if !f.started {
		return Origin{}, false
	}
	behind := uint16(f.outHigh) - seq
	if behind >= 1<<15 || uint64(behind) > f.outHigh {
		return Origin{}, false
	}
	out := f.outHigh - uint64(behind)
	if out >= f.seg.outStart {
		return f.seg.origin(out), true
	}
	// Walk older segments, newest first. Segment i covers
	// [history[i].outStart, start of the next newer segment).
	end := f.seg.outStart
	for i := 0; i < f.nhist; i++ {
		s := f.history[(f.hnext-1-i+2*historySize)%historySize]
		if out >= s.outStart && out < end {
			return s.origin(out), true
		}
		end = s.outStart
	}
	return Origin{}, false
}

func (s segment) origin(out uint64) Origin {
	return Origin{Layer: s.layer, ExtSeq: out + s.seqOffset, TSOffset: s.tsOffset, PicOffset: s.picOffset, TL0Offset: s.tl0Offset}
}
