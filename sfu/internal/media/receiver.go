package media

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atrium-live/atrium/sfu/internal/audiolevel"
	"github.com/atrium-live/atrium/sfu/internal/buffer"
	"github.com/atrium-live/atrium/sfu/internal/forwarder"
	"github.com/atrium-live/atrium/sfu/internal/keyframe"
	"github.com/atrium-live/atrium/sfu/internal/vp8"
	"github.com/atrium-live/atrium/sfu/internal/vp9"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// MaxLayers is the number of simulcast layers per track.
const MaxLayers = forwarder.MaxLayers

// Errors.
var (
	ErrClosed      = errors.New("media: closed")
	ErrNoLayer     = errors.New("media: unknown layer")
	ErrPayloadType = errors.New("media: unexpected payload type")
)

const (
	maxPacket       = 1500
	videoBufferSize = 512 // ~1-2 s of a 1-2.5 Mbit/s layer
	audioBufferSize = 128 // ~2.5 s of 20 ms Opus
	nackCheckEvery  = int64(20 * time.Millisecond)
	pliMinInterval  = int64(500 * time.Millisecond)
	// forcedPLIEvery is the PLI interval for subscribers not yet served a keyframe (joiners):
	// a join burst costs the publisher at most one keyframe per layer per 250 ms, and none
	// while the last request is still unanswered (its keyframe serves the joiners too).
	forcedPLIEvery   = int64(250 * time.Millisecond)
	layerActiveFor   = int64(time.Second)
	bitrateWindow    = int64(time.Second)
	maxNacksPerBatch = 64
)

// ReceiverParams configures a Receiver.
type ReceiverParams struct {
	TrackID          string                    // cluster-global "TR_..." id
	Kind             webrtc.RTPCodecType       // audio or video
	Codec            webrtc.RTPCodecParameters // negotiated codec of the publisher's track
	HeaderExtensions []webrtc.RTPHeaderExtensionParameter
	// WriteRTCP sends feedback (NACK, PLI) upstream to the publisher. Must be
	// safe for concurrent use; it is called from packet sources' goroutines
	// (NACKs) and from subscribers' RTCP handling (PLIs), never under a lock.
	// It must not retain the packets after returning (they are reused), as
	// webrtc.PeerConnection.WriteRTCP does not.
	WriteRTCP func([]rtcp.Packet) error
	Logger    *slog.Logger
	Metrics   *Metrics // may be nil
	// Fanout tunes how packets are spread over many subscribers.
	Fanout FanoutParams
	// Batch, if set, is told when a packet's fan-out begins and ends, so
	// that its datagrams can leave in one system call (udpbatch.Conn, the
	// muxed ICE socket). May be nil.
	Batch Batcher
}

// Batcher groups the datagrams written between Begin and End into as few
// system calls as possible. Both must be safe for concurrent use (each
// fan-out goroutine brackets its own writes) and must not block for long.
type Batcher interface {
	Begin()
	End()
}

// ReceiverStats is a snapshot of a Receiver's counters.
type ReceiverStats struct {
	Packets   uint64
	Bytes     uint64
	Lost      uint64
	Jitter    float64 // RTP units, the worst layer's (RFC 3550 A.8)
	NacksSent uint64
	PLIsSent  uint64
	Layers    [MaxLayers]LayerStats
}

// LayerStats describes one simulcast layer.
type LayerStats struct {
	RID       string
	SSRC      uint32
	Active    bool // packets arrived within the last second
	Bitrate   int  // bits per second over the last second
	Packets   uint64
	Bytes     uint64
	Lost      uint64
	Jitter    float64
	NacksSent uint64
}

// Receiver is one published track with all of its simulcast layers. It owns
// the receive buffers and fans packets out to DownTracks. Safe for concurrent
// use.
type Receiver struct {
	p            ReceiverParams
	log          *slog.Logger
	kind         forwarder.Kind
	isKeyframe   keyframe.Func
	isVP8        bool // VP8 picture numbering is rewritten per subscriber
	isVP9        bool // VP9 layers are selected per subscriber (svc.go)
	audioLevelID uint8
	meter        *audiolevel.Meter
	epoch        time.Time
	clock        func() int64 // nil: time since epoch; set only by tests before use
	fan          FanoutParams

	mu         sync.Mutex // serialises AddLayer, Subscribe, Unsubscribe, Close
	layers     [MaxLayers]atomic.Pointer[layer]
	downTracks atomic.Pointer[fanSet] // copy-on-write under mu
	muted      atomic.Bool
	closed     atomic.Bool

	plisSent atomic.Uint64
	svc      atomic.Bool // a VP9 stream with more than one spatial layer arrived
}

// layer is one incoming RTP stream. Fields after buf are owned by the
// stream's single writer goroutine.
type layer struct {
	index int
	rid   string
	ssrc  uint32
	buf   *buffer.Buffer

	lastArrival atomic.Int64
	bitrate     atomic.Int64
	lastPLI     atomic.Int64
	lastKey     atomic.Int64 // arrival of the last keyframe (its first packet)

	hdr        rtp.Header
	out        scratch
	readBuf    []byte
	nackSeqs   []uint16
	nackPairs  []rtcp.NackPair
	nackPkt    rtcp.TransportLayerNack
	nackOut    [1]rtcp.Packet
	lastNackAt int64
	highest    uint64 // highest extended sequence number pushed
	rateStart  int64
	rateBytes  int64
	// VP9 SVC: bytes per spatial layer in the current rate window, and the
	// rates of the last one (read by the Allocator).
	spatialBytes [MaxLayers]int64
	spatialRate  [MaxLayers]atomic.Int64
	pkt          packet

	// Parallel fan-out (fanout.go): ring is created by the writer
	// goroutine when the room grows, and stopped by retire.
	ring    *fanRing
	ringMu  sync.Mutex // guards ring against retire
	retired atomic.Bool
	inline  bool // the writer left parallel mode (workers drained)
}

// packet is one incoming packet as the fan-out hands it to DownTracks. It
// aliases the layer's parse state and is valid only during the fan-out.
type packet struct {
	layer    int
	extSeq   uint64
	hdr      *rtp.Header
	payload  []byte // after the header, without padding
	padding  byte   // padding bytes that followed the payload
	arrival  int64  // ns since the Receiver's epoch
	keyframe bool
	absSend  [3]byte // abs-send-time of the fan-out, computed once for all subscribers
	vp8      vp8.Descriptor
	hasVP8   bool // vp8 is valid
	vp9      vp9.Descriptor
	hasVP9   bool // vp9 is valid
}

// NewReceiver creates a Receiver with no layers; call AddLayer for each
// incoming stream.
func NewReceiver(p ReceiverParams) *Receiver {
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Receiver{
		p:     p,
		log:   log.With("track", p.TrackID),
		kind:  forwarder.Video,
		epoch: time.Now(),
		fan:   p.Fanout.withDefaults(),
	}
	if p.Kind == webrtc.RTPCodecTypeAudio {
		r.kind = forwarder.Audio
		r.meter = audiolevel.New(audiolevel.Params{})
	} else {
		r.isKeyframe = keyframe.ForMimeType(p.Codec.MimeType)
		r.isVP8 = strings.EqualFold(p.Codec.MimeType, webrtc.MimeTypeVP8)
		r.isVP9 = strings.EqualFold(p.Codec.MimeType, webrtc.MimeTypeVP9)
	}
	for _, e := range p.HeaderExtensions {
		if e.URI == audiolevel.URI && e.ID > 0 && e.ID < 256 {
			r.audioLevelID = uint8(e.ID)
		}
	}
	r.downTracks.Store(newFanSet(nil, r.fan.Workers+1))
	return r
}

// TrackID returns the track's cluster-global id.
func (r *Receiver) TrackID() string { return r.p.TrackID }

// Kind returns audio or video.
func (r *Receiver) Kind() webrtc.RTPCodecType { return r.p.Kind }

// Codec returns the publisher's codec.
func (r *Receiver) Codec() webrtc.RTPCodecParameters { return r.p.Codec }

// now is the Receiver's clock in ns since its epoch; tests replace clock.
func (r *Receiver) now() int64 {
	if r.clock != nil {
		return r.clock()
	}
	return int64(time.Since(r.epoch))
}

// ridIndex maps well-known simulcast RIDs to layers: LiveKit's and most
// clients' "q"/"h"/"f", and numeric "0".."2".
func ridIndex(rid string) int {
	switch strings.ToLower(rid) {
	case "", "q", "0", "low", "l":
		return 0
	case "h", "1", "mid", "medium", "m":
		return 1
	case "f", "2", "high", "full":
		return 2
	}
	return -1
}

// AddLayer registers an incoming RTP stream and returns its layer index. rid
// is "" for a non-simulcast track, else the simulcast RID: "q", "h", "f"
// (LiveKit's) or "0".."2" map to layers 0..2; other RIDs take the lowest free
// index. Adding a RID again returns its existing index (with the new SSRC).
func (r *Receiver) AddLayer(rid string, ssrc uint32) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil && l.rid == rid {
			if l.ssrc != ssrc {
				// The stream restarted: new buffer, and subscribers on this
				// layer start a new segment at its next keyframe.
				r.layers[i].Store(r.newLayer(i, rid, ssrc))
				l.retire()
				for _, dt := range r.downTracks.Load().all {
					dt.layerRestarted(i)
				}
			}
			return i
		}
	}
	idx := ridIndex(rid)
	if idx < 0 || r.layers[idx].Load() != nil {
		idx = -1
		for i := range r.layers {
			if r.layers[i].Load() == nil {
				idx = i
				break
			}
		}
	}
	if idx < 0 {
		r.log.Warn("too many simulcast layers, replacing the top one", "rid", rid)
		idx = MaxLayers - 1
	}
	if old := r.layers[idx].Swap(r.newLayer(idx, rid, ssrc)); old != nil {
		old.retire()
	}
	return idx
}

func (r *Receiver) newLayer(i int, rid string, ssrc uint32) *layer {
	size := videoBufferSize
	if r.kind == forwarder.Audio {
		size = audioBufferSize
	}
	return &layer{
		index: i,
		rid:   rid,
		ssrc:  ssrc,
		buf: buffer.New(buffer.Params{
			Size: size, MaxPacket: maxPacket, ClockRate: r.p.Codec.ClockRate,
		}),
		readBuf:   make([]byte, maxPacket),
		nackSeqs:  make([]uint16, 0, maxNacksPerBatch*4),
		nackPairs: make([]rtcp.NackPair, 0, maxNacksPerBatch*4),
		out:       newScratch(),
	}
}

// PacketSource is where a Receiver reads one layer's RTP packets from: a
// publisher's *webrtc.TrackRemote today, a relay link later.
type PacketSource interface {
	Read(b []byte) (int, interceptor.Attributes, error)
}

// ReadFrom reads RTP packets from src into layer until src fails or the
// Receiver is closed, forwarding each as it arrives. It returns nil when src
// reports io.EOF or after Close, else src's error. Run it on its own goroutine,
// one per layer; it allocates nothing per packet. Close does not interrupt a
// blocked Read: closing the source (the PeerConnection) does.
func (r *Receiver) ReadFrom(layer int, src PacketSource) error {
	l, err := r.layer(layer)
	if err != nil {
		return err
	}
	for {
		n, _, err := src.Read(l.readBuf)
		if err != nil {
			if errors.Is(err, io.EOF) || r.closed.Load() {
				return nil
			}
			return fmt.Errorf("read layer %d of %s: %w", layer, r.p.TrackID, err)
		}
		if err := r.write(l, l.readBuf[:n], r.now()); err != nil {
			if errors.Is(err, ErrClosed) {
				return nil
			}
			r.log.Debug("dropped packet", "layer", layer, "err", err)
		}
	}
}

func (r *Receiver) layer(i int) (*layer, error) {
	if i < 0 || i >= MaxLayers {
		return nil, fmt.Errorf("%w: %d", ErrNoLayer, i)
	}
	l := r.layers[i].Load()
	if l == nil {
		return nil, fmt.Errorf("%w: %d", ErrNoLayer, i)
	}
	return l, nil
}

// WriteRTP feeds one raw RTP packet of layer, which arrived at arrival, and
// forwards it. Calls for the same layer must not be concurrent (each layer has
// one packet source); raw is not retained. Duplicates and packets too old for
// the buffer are dropped without error.
func (r *Receiver) WriteRTP(layer int, raw []byte, arrival time.Time) error {
	l, err := r.layer(layer)
	if err != nil {
		return err
	}
	return r.write(l, raw, int64(arrival.Sub(r.epoch)))
}

func (r *Receiver) write(l *layer, raw []byte, now int64) error {
	if r.closed.Load() {
		return ErrClosed
	}
	hl, err := l.hdr.Unmarshal(raw)
	if err != nil {
		return fmt.Errorf("parse rtp: %w", err)
	}
	if pt := r.p.Codec.PayloadType; pt != 0 && l.hdr.PayloadType != uint8(pt) {
		// Another codec (or a stray payload type) on this stream: rewritten
		// to our codec's payload type it would be garbage to subscribers.
		return fmt.Errorf("%w: %d, track codec is %d", ErrPayloadType, l.hdr.PayloadType, pt)
	}
	ext, st, stored, err := l.buf.Push(raw, l.hdr.SequenceNumber, l.hdr.Timestamp, now)
	if err != nil {
		if errors.Is(err, buffer.ErrDuplicate) || errors.Is(err, buffer.ErrTooOld) {
			return nil
		}
		return fmt.Errorf("buffer: %w", err)
	}
	if st == buffer.Reset {
		// The publisher's numbering restarted or jumped: subscribers on
		// this layer start a new segment (video: at the next keyframe).
		l.highest = ext
		for _, dt := range r.downTracks.Load().all {
			dt.layerRestarted(l.index)
		}
	}
	var gap uint64
	if st == buffer.InOrder {
		if l.highest != 0 && ext > l.highest+1 && ext-l.highest-1 < uint64(l.buf.Size()) {
			gap = ext - l.highest - 1
		}
		l.highest = ext
	}
	if m := r.p.Metrics; m != nil {
		m.PacketsIn.Inc()
		m.BytesIn.Add(float64(len(raw)))
		if gap > 0 {
			m.PacketsLost.Add(float64(gap))
		}
	}
	l.lastArrival.Store(now)
	l.rateBytes += int64(len(raw))
	if l.rateStart == 0 {
		l.rateStart = now
	} else if d := now - l.rateStart; d >= bitrateWindow {
		l.bitrate.Store(l.rateBytes * 8 * int64(time.Second) / d)
		l.rateStart, l.rateBytes = now, 0
		for i := range l.spatialBytes {
			l.spatialRate[i].Store(l.spatialBytes[i] * 8 * int64(time.Second) / d)
			l.spatialBytes[i] = 0
		}
	}

	body := stored[hl:]
	var pad byte
	if l.hdr.Padding && len(body) > 0 {
		pad = body[len(body)-1]
		if int(pad) > len(body) || pad == 0 {
			return fmt.Errorf("parse rtp: bad padding %d", pad)
		}
		body = body[:len(body)-int(pad)]
	}
	if r.meter != nil && r.audioLevelID != 0 {
		if dBov, _, ok := audiolevel.Parse(l.hdr.GetExtension(r.audioLevelID)); ok {
			r.meter.Observe(dBov, now)
		}
	}

	if now-l.lastNackAt >= nackCheckEvery {
		l.lastNackAt = now
		r.sendNacks(l, now)
	}

	if r.muted.Load() {
		return nil
	}
	l.pkt = packet{
		layer:    l.index,
		extSeq:   ext,
		hdr:      &l.hdr,
		payload:  body,
		padding:  pad,
		arrival:  now,
		keyframe: r.isKeyframe != nil && len(body) > 0 && r.isKeyframe(body),
	}
	if l.pkt.keyframe {
		l.lastKey.Store(now)
	}
	if r.isVP8 {
		l.pkt.vp8, l.pkt.hasVP8 = vp8.Parse(body)
	}
	if r.isVP9 {
		l.pkt.vp9, l.pkt.hasVP9 = vp9.Parse(body)
		if v := &l.pkt.vp9; l.pkt.hasVP9 && v.HasLayers && v.Spatial < MaxLayers {
			l.spatialBytes[v.Spatial] += int64(len(raw))
			if v.Spatial > 0 && !r.svc.Load() {
				r.svc.Store(true)
			}
		}
	}
	set := r.downTracks.Load()
	if len(set.all) == 0 {
		return nil
	}
	// The clock is read once per packet, not per subscriber: on some virtual
	// machines reading it costs more than the rest of a subscriber's write.
	putAbsSendTime(&l.pkt.absSend, r.epoch.Add(time.Duration(now)))
	if b := r.p.Batch; b != nil {
		b.Begin()
		r.fanOut(l, set, stored)
		b.End()
	} else {
		r.fanOut(l, set, stored)
	}
	r.flushOut(&l.out)
	if m := r.p.Metrics; m != nil {
		m.ForwardDelay.Observe(float64(r.now()-now) / 1e9)
	}
	return nil
}

// sendNacks asks the publisher for the layer's packets that are due for a
// NACK (RFC 4585 §6.2.1), packing up to 17 sequence numbers per pair. It runs
// on the layer's writer goroutine and reuses the layer's RTCP packet, so it
// does not allocate (WriteRTCP must not retain the packet).
func (r *Receiver) sendNacks(l *layer, now int64) {
	seqs := l.buf.PendingNacks(now, l.nackSeqs[:0])
	l.nackSeqs = seqs[:0]
	if len(seqs) == 0 || r.p.WriteRTCP == nil {
		return
	}
	if m := r.p.Metrics; m != nil {
		m.NacksSent.Add(float64(len(seqs)))
	}
	pairs := l.nackPairs[:0]
	for _, s := range seqs {
		if n := len(pairs); n > 0 {
			d := s - pairs[n-1].PacketID
			if d >= 1 && d <= 16 {
				pairs[n-1].LostPackets |= 1 << (d - 1)
				continue
			}
		}
		pairs = append(pairs, rtcp.NackPair{PacketID: s})
	}
	l.nackPairs = pairs[:0]
	l.nackPkt = rtcp.TransportLayerNack{MediaSSRC: l.ssrc, Nacks: pairs}
	l.nackOut[0] = &l.nackPkt
	if err := r.p.WriteRTCP(l.nackOut[:]); err != nil {
		r.log.Debug("send nack", "err", err)
	}
}

// RequestKeyframe asks the publisher for a keyframe on layer with a PLI,
// at most once per 500 ms per layer; it reports whether a PLI was sent.
func (r *Receiver) RequestKeyframe(layer int) bool { return r.requestKeyframe(layer, 0) }

// requestKeyframe is RequestKeyframe for a subscriber that could not use
// keyframes requested before notBefore (its transport was not up yet). Such
// a caller is throttled for 250 ms (forcedPLIEvery) instead of 500 ms, and
// only if the last PLI was already answered by a keyframe: while it is
// unanswered, the keyframe on its way will serve this subscriber too. So a
// late joiner is served within about one keyframe round trip, while a crowd
// joining at once causes at most four PLIs a second per layer.
func (r *Receiver) requestKeyframe(layer int, notBefore int64) bool {
	if r.kind != forwarder.Video || r.p.WriteRTCP == nil {
		return false
	}
	l, err := r.layer(layer)
	if err != nil {
		return false
	}
	now := r.now()
	last := l.lastPLI.Load()
	if last != 0 && now-last < pliMinInterval {
		// The last PLI came too early for this caller, and its keyframe came and went
		// before the caller was up.
		k := l.lastKey.Load()
		fresh := notBefore > last && k >= last && k < notBefore && now-last >= forcedPLIEvery
		if !fresh {
			return false
		}
	}
	if !l.lastPLI.CompareAndSwap(last, now) {
		return false
	}
	r.plisSent.Add(1)
	if m := r.p.Metrics; m != nil {
		m.PLIsSent.Inc()
	}
	if err := r.p.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: l.ssrc}}); err != nil {
		r.log.Debug("send pli", "layer", layer, "err", err)
	}
	return true
}

// Subscribe creates a DownTrack fed by r. Add it to the subscriber's
// PeerConnection; packets flow once pion binds it.
func (r *Receiver) Subscribe(p DownTrackParams) (*DownTrack, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed.Load() {
		return nil, fmt.Errorf("subscribe to %s: %w", r.p.TrackID, ErrClosed)
	}
	dt := newDownTrack(r, p)
	dt.fwd.SetMuted(r.muted.Load())
	cur := r.downTracks.Load()
	dt.share = cur.smallestShare()
	next := make([]*DownTrack, 0, len(cur.all)+1)
	next = append(append(next, cur.all...), dt)
	r.downTracks.Store(newFanSet(next, len(cur.shares)))
	return dt, nil
}

// Unsubscribe stops feeding dt and closes it. Idempotent.
func (r *Receiver) Unsubscribe(dt *DownTrack) {
	r.mu.Lock()
	cur := r.downTracks.Load()
	next := make([]*DownTrack, 0, len(cur.all))
	for _, d := range cur.all {
		if d != dt {
			next = append(next, d)
		}
	}
	r.downTracks.Store(newFanSet(next, len(cur.shares)))
	r.mu.Unlock()
	dt.markClosed()
}

// DownTracks returns the current subscribers' DownTracks.
func (r *Receiver) DownTracks() []*DownTrack {
	return append([]*DownTrack(nil), r.downTracks.Load().all...)
}

// SetMuted records the publisher's mute: while muted nothing is forwarded;
// on unmute video resumes at the next keyframe, which each DownTrack requests
// on the layer it wants as soon as packets flow again.
func (r *Receiver) SetMuted(muted bool) {
	if r.muted.Swap(muted) == muted {
		return
	}
	for _, dt := range r.downTracks.Load().all {
		dt.setMuted(muted)
	}
}

// SubscribedLayers reports, per simulcast layer, whether an enabled
// subscriber currently wants it (its SetMaxLayer cap lowered by its
// Allocator; not lowered by what the publisher sends). The session layer can
// tell the publisher which layers to send (LiveKit's dynacast,
// SubscribedQualityUpdate); a subscriber whose layer is not sent falls back
// to the best one that is until it comes back.
func (r *Receiver) SubscribedLayers() (layers [MaxLayers]bool) {
	for _, dt := range r.downTracks.Load().all {
		dt.mu.Lock()
		on, want := dt.fwd.Enabled(), min(dt.maxLayer, dt.allocated)
		dt.mu.Unlock()
		if on && !dt.closed.Load() {
			layers[want] = true
		}
	}
	return layers
}

// Muted reports the publisher's mute state.
func (r *Receiver) Muted() bool { return r.muted.Load() }

// AudioLevel returns the smoothed audio level (0..1 amplitude) from the
// RFC 6464 header extension, and whether it counts as speech. Always (0,
// false) for video or when the publisher did not negotiate the extension.
func (r *Receiver) AudioLevel() (level float64, active bool) {
	if r.meter == nil || r.muted.Load() {
		return 0, false
	}
	return r.meter.Level(r.now())
}

// layerInfo reports whether layer i is receiving and its bitrate.
func (r *Receiver) layerInfo(i int) (active bool, bitrate int) {
	l := r.layers[i].Load()
	if l == nil {
		return false, 0
	}
	last := l.lastArrival.Load()
	return last != 0 && r.now()-last < layerActiveFor, int(l.bitrate.Load())
}

// layerStale reports whether layer i has received nothing for
// layerActiveFor before now.
func (r *Receiver) layerStale(i int, now int64) bool {
	l := r.layers[i].Load()
	return l == nil || now-l.lastArrival.Load() >= layerActiveFor
}

// Stats returns a snapshot of the receive statistics.
func (r *Receiver) Stats() ReceiverStats {
	s := ReceiverStats{PLIsSent: r.plisSent.Load()}
	for i := range r.layers {
		l := r.layers[i].Load()
		if l == nil {
			continue
		}
		b := l.buf.Stats()
		active, rate := r.layerInfo(i)
		s.Layers[i] = LayerStats{
			RID: l.rid, SSRC: l.ssrc, Active: active, Bitrate: rate,
			Packets: b.Packets, Bytes: b.Bytes, Lost: b.Lost, Jitter: b.Jitter, NacksSent: b.NacksSent,
		}
		s.Packets += b.Packets
		s.Bytes += b.Bytes
		s.Lost += b.Lost
		s.NacksSent += b.NacksSent
		if b.Jitter > s.Jitter {
			s.Jitter = b.Jitter
		}
	}
	return s
}

// Close stops forwarding and closes every DownTrack. Packet sources return
// from ReadFrom at their next packet. Idempotent.
func (r *Receiver) Close() {
	r.mu.Lock()
	if r.closed.Swap(true) {
		r.mu.Unlock()
		return
	}
	old := r.downTracks.Load()
	r.downTracks.Store(newFanSet(nil, len(old.shares)))
	r.mu.Unlock()
	for i := range r.layers {
		if l := r.layers[i].Load(); l != nil {
			l.retire()
		}
	}
	for _, dt := range old.all {
		dt.markClosed()
	}
}
