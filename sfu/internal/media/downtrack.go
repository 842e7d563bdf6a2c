package media

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atrium-live/atrium/sfu/internal/forwarder"
	"github.com/atrium-live/atrium/sfu/internal/svc"
	"github.com/atrium-live/atrium/sfu/internal/vp8"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// DownTrackParams configures a DownTrack.
type DownTrackParams struct {
	SubscriberID string // "PA_..." of the subscriber
	StreamID     string // "PA_<publisher sid>|TR_<track sid>"
	// Codecs the subscriber PC may negotiate for this kind (usually
	// Codecs(kind)); the DownTrack picks the publisher's codec among them.
	Codecs []webrtc.RTPCodecParameters
	Logger *slog.Logger
	// SelectSVC makes the DownTrack forward only the VP9 spatial layers its
	// layer choice allows (svc.go). Set it for a subscriber that decodes;
	// leave it off for one that forwards further (a relay to another node,
	// whose own DownTracks select), which then gets every layer.
	SelectSVC bool
}

// DownTrackStats is a snapshot of one DownTrack's counters.
type DownTrackStats struct {
	Packets      uint64
	Bytes        uint64
	Retransmits  uint64
	RTXPackets   uint64 // retransmissions sent as RTX on the repair SSRC (part of Retransmits)
	NacksRecv    uint64
	PLIsRecv     uint64
	Dropped      uint64  // packets of the current layer not forwarded (pause, mute, waiting for keyframe)
	FractionLost float64 // from the subscriber's last receiver report, 0..1
	Jitter       uint32  // from the last receiver report, RTP units
	RTT          time.Duration
	Layer        int // layer being forwarded, -1 when none
}

// scratch is where a DownTrack builds the outgoing header. One per writer
// goroutine: each layer's fan-out has its own, retransmissions take one from
// a pool.
type scratch struct {
	hdr  rtp.Header
	abs  [3]byte
	data []byte // retransmissions copy the stored packet here
	rtx  []byte // retransmissions build their RTX payload here
	pay  []byte // payloads rewritten for this subscriber (VP8 numbering)
	// Packets and bytes written since the last flushOut: the shared
	// Prometheus counters are updated once per fan-out, not per
	// subscriber, so cores forwarding different tracks do not contend.
	pkts, bytes int
}

func newScratch() scratch {
	return scratch{hdr: rtp.Header{Extensions: make([]rtp.Extension, 0, 8)}, pay: make([]byte, maxPacket)}
}

// setVP8 copies a packet's VP8 numbering into the Forwarder's input.
func setVP8(fp *forwarder.Packet, d vp8.Descriptor) {
	fp.HasPictureID, fp.PictureID, fp.PictureMask = d.HasPictureID, d.PictureID, d.PictureIDMask()
	fp.HasTL0PicIdx, fp.TL0PicIdx = d.HasTL0PicIdx, d.TL0PicIdx
}

// mungeVP8 returns payload with its PictureID and TL0PICIDX set to pic and
// tl0: payload itself when they already match (no copy), else a rewritten
// copy in buf.
func mungeVP8(buf, payload []byte, d vp8.Descriptor, pic uint16, tl0 uint8) []byte {
	if (!d.HasPictureID || d.PictureID == pic) && (!d.HasTL0PicIdx || d.TL0PicIdx == tl0) {
		return payload
	}
	n := copy(buf, payload)
	d.Rewrite(buf[:n], pic, tl0)
	return buf[:n]
}

// resend records when a sequence number was last retransmitted, and how often.
type resend struct {
	seq uint16
	n   uint8
	at  int64
}

// resendGuard is the minimum time between two retransmissions of one packet
// to one subscriber.
const resendGuard = int64(100 * time.Millisecond)

// maxResends bounds the retransmissions of one packet to one subscriber. A
// pion subscriber (server-sdk-go) that negotiated RTX never tells its NACK
// generator about packets repaired over RTX, so it NACKs them again every
// 100 ms until they leave its window; libwebrtc gives up after 10 tries.
const maxResends = 5

// binding is what pion negotiated for the DownTrack on the subscriber PC.
type binding struct {
	ssrc   uint32
	pt     uint8
	writer webrtc.TrackLocalWriter
	codec  webrtc.RTPCodecParameters
	// extMap maps a publisher header extension id to the subscriber's id
	// for the extensions that are forwarded as they are (0: drop).
	extMap  [256]uint8
	fwdIDs  []uint8 // publisher ids with a mapping, to avoid scanning 255
	absSend uint8   // subscriber's abs-send-time id, set by us per packet

	// RTX (rtx.go), when the subscriber negotiated it for codec: retransmissions
	// go on rtxSSRC with payload type rtxPT and their own sequence numbers.
	rtxSSRC uint32
	rtxPT   uint8
	rtxSeq  atomic.Uint32 // last RTX sequence number used (low 16 bits)
}

// forwardedExtension reports whether a header extension is copied from
// publisher to subscriber (with its id rewritten). Transport-wide CC and
// abs-send-time describe the subscriber's own transport and are generated on
// that PC; mid, rid and repaired-rid are the subscriber PC's business (and rid
// would be wrong after a layer switch); the dependency descriptor would need
// rewriting across switches and is dropped.
func forwardedExtension(uri string) bool {
	switch uri {
	case sdp.AudioLevelURI, videoOrientationURI, playoutDelayURI:
		return true
	}
	return false
}

// DownTrack sends one published track to one subscriber. It implements
// webrtc.TrackLocal: add it to the subscriber's PeerConnection and pion calls
// Bind/Unbind. Safe for concurrent use.
type DownTrack struct {
	r   *Receiver
	p   DownTrackParams
	log *slog.Logger

	share     int // fan-out share (fanout.go), fixed at Subscribe
	bound     atomic.Pointer[binding]
	closed    atomic.Bool
	delivered atomic.Bool // a packet reached the subscriber's transport

	transport   atomic.Pointer[webrtc.DTLSTransport] // optional, from SetTransport
	ready       atomic.Bool                          // transport known to be up
	kfNotBefore atomic.Int64                         // keyframes requested earlier are useless to us
	lastForced  atomic.Int64

	mu        sync.Mutex // guards the fields below; never held across a write
	fwd       *forwarder.Forwarder
	resent    [128]resend // recent retransmissions, by seq modulo 128
	maxLayer  int         // from the subscriber's track settings
	allocated int         // from the Allocator
	alloc     *Allocator
	svc       *svc.Selector       // VP9 SVC layer choice, created with the first layered packet
	svcGaps   [svcGapWords]uint64 // output seqs sent as padding in place of a dropped layer (svc.go)

	packets, bytes, retransmits, rtxPackets, nacks, plis, dropped atomic.Uint64
	fractionLost                                                  atomic.Uint32 // RR fraction lost, in 1/256
	jitter, rtt                                                   atomic.Int64

	retransPool sync.Pool
}

func newDownTrack(r *Receiver, p DownTrackParams) *DownTrack {
	log := p.Logger
	if log == nil {
		log = r.log
	}
	d := &DownTrack{
		r:         r,
		p:         p,
		log:       log.With("track", r.p.TrackID, "subscriber", p.SubscriberID),
		fwd:       forwarder.New(forwarder.Params{Kind: r.kind, ClockRate: r.p.Codec.ClockRate}),
		maxLayer:  MaxLayers - 1,
		allocated: MaxLayers - 1,
	}
	d.retransPool.New = func() any {
		s := newScratch()
		s.data = make([]byte, maxPacket)
		s.rtx = make([]byte, maxPacket+2)
		return &s
	}
	return d
}

// ID is the track id (the published track's "TR_..." id).
func (d *DownTrack) ID() string { return d.r.p.TrackID }

// StreamID is "PA_<publisher>|TR_<track>" as LiveKit clients expect.
func (d *DownTrack) StreamID() string { return d.p.StreamID }

// RID is empty: a subscriber receives one layer on one SSRC.
func (d *DownTrack) RID() string { return "" }

// Kind is the published track's kind.
func (d *DownTrack) Kind() webrtc.RTPCodecType { return d.r.p.Kind }

// SubscriberID returns the subscriber's participant id.
func (d *DownTrack) SubscriberID() string { return d.p.SubscriberID }

// Receiver returns the Receiver feeding d.
func (d *DownTrack) Receiver() *Receiver { return d.r }

// Bind is called by pion when the subscriber PC negotiated the track. It
// picks the codec, learns the SSRC and header extension ids, and requests a
// keyframe so a late joiner sees video within about one round trip.
func (d *DownTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(d.r.p.Codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, fmt.Errorf("bind %s: no codec matching %s: %w",
			d.r.p.TrackID, d.r.p.Codec.MimeType, webrtc.ErrUnsupportedCodec)
	}
	b := &binding{
		ssrc:   uint32(ctx.SSRC()),
		pt:     uint8(codec.PayloadType),
		writer: ctx.WriteStream(),
		codec:  codec,
	}
	if ssrc, pt := uint32(ctx.SSRCRetransmission()), rtxPayloadType(ctx.CodecParameters(), codec.PayloadType); ssrc != 0 && pt != 0 && d.r.kind == forwarder.Video {
		b.rtxSSRC, b.rtxPT = ssrc, pt
		b.rtxSeq.Store(ssrc >> 16) // any start will do (RFC 3550 §5.1 wants it unpredictable; the SSRC is random)
	}
	sub := map[string]int{}
	for _, e := range ctx.HeaderExtensions() {
		sub[e.URI] = e.ID
	}
	if id := sub[sdp.ABSSendTimeURI]; id > 0 && id < 256 {
		b.absSend = uint8(id)
	}
	for _, e := range d.r.p.HeaderExtensions {
		if !forwardedExtension(e.URI) || e.ID <= 0 || e.ID > 255 {
			continue
		}
		if id := sub[e.URI]; id > 0 && id < 256 {
			b.extMap[e.ID] = uint8(id)
			b.fwdIDs = append(b.fwdIDs, uint8(e.ID))
		}
	}
	d.bound.Store(b)
	if d.r.kind == forwarder.Video && d.isReady() {
		d.mu.Lock()
		target := d.fwd.TargetLayer()
		d.mu.Unlock()
		d.requestKeyframe(d.r.availableLayer(target))
	}
	return codec, nil
}

// SetTransport tells the DownTrack which DTLS transport carries it
// (RTPSender.Transport() of its transceiver). Optional but recommended: with
// it the DownTrack neither forwards nor asks for keyframes before the
// transport is up (pion silently drops such writes), and asks for a fresh
// keyframe the moment it is, so a late joiner sees video about one round trip
// after connecting. Without it the DownTrack notices the dropped writes and
// retries, which can cost one PLI interval (500 ms) more.
func (d *DownTrack) SetTransport(t *webrtc.DTLSTransport) {
	if t != nil {
		d.transport.Store(t)
	}
}

// isReady reports whether writes can reach the subscriber: always true
// without SetTransport; otherwise once the DTLS transport is connected. The
// first time it is, keyframes requested before are discounted.
func (d *DownTrack) isReady() bool {
	if d.ready.Load() {
		return true
	}
	t := d.transport.Load()
	if t == nil {
		return true
	}
	if t.State() != webrtc.DTLSTransportStateConnected {
		return false
	}
	if !d.ready.Swap(true) {
		d.kfNotBefore.Store(d.r.now())
	}
	return true
}

// requestKeyframe asks the Receiver for a keyframe on layer. Until this
// DownTrack has been served a keyframe since its transport came up, PLIs sent
// for other subscribers before that moment do not count against the
// throttle (but this DownTrack sends at most one per 100 ms itself).
func (d *DownTrack) requestKeyframe(layer int) {
	nb := d.kfNotBefore.Load()
	now := d.r.now()
	if nb != 0 && now-d.lastForced.Load() < forcedPLIEvery {
		nb = 0
	}
	if d.r.requestKeyframe(layer, nb) && nb != 0 {
		d.lastForced.Store(now)
	}
}

// Unbind is called by pion when the track is removed from the subscriber PC.
func (d *DownTrack) Unbind(webrtc.TrackLocalContext) error {
	d.bound.Store(nil)
	return nil
}

// writeRTP forwards one fanned-out packet. Called from the layer's fan-out
// goroutine with that goroutine's scratch.
func (d *DownTrack) writeRTP(s *scratch, p *packet) {
	b := d.bound.Load()
	if b == nil || d.closed.Load() || !d.isReady() {
		return
	}
	d.mu.Lock()
	prev := d.fwd.CurrentLayer()
	want := min(d.maxLayer, d.allocated)
	switch {
	case p.keyframe && p.layer != d.fwd.TargetLayer() && p.layer <= want:
		// A keyframe on a layer we may prefer: the set of layers the
		// publisher sends may have changed.
		d.fwd.SetTargetLayer(d.r.availableLayer(want))
	case prev >= 0 && p.layer != prev && d.r.layerStale(prev, p.arrival):
		// The layer being forwarded stopped (the publisher dropped it):
		// fall back to what is still sent.
		d.fwd.SetTargetLayer(d.r.availableLayer(want))
	}
	fp := forwarder.Packet{
		Layer: p.layer, ExtSeq: p.extSeq, TS: p.hdr.Timestamp, Arrival: p.arrival, Keyframe: p.keyframe,
	}
	if p.hasVP8 {
		setVP8(&fp, p.vp8)
	}
	res := d.fwd.Forward(fp)
	var layered svc.Decision
	svcOn := d.p.SelectSVC && p.hasVP9 && p.vp9.HasLayers
	if res.Forward && svcOn {
		layered = d.selectSVC(p, want, res.Seq)
	}
	if res.NeedKeyframe {
		// Aim at a layer that is actually being sent, not the wish.
		if t := d.r.availableLayer(want); t != res.KeyframeLayer {
			d.fwd.SetTargetLayer(t)
			res.KeyframeLayer = t
			res.NeedKeyframe = t != d.fwd.CurrentLayer()
		}
	}
	d.mu.Unlock()
	if res.NeedKeyframe {
		d.requestKeyframe(res.KeyframeLayer)
	} else if layered.NeedKeyframe {
		d.requestKeyframe(p.layer) // a higher spatial layer starts at a keyframe
	}
	if !res.Forward {
		if p.layer == prev {
			d.dropped.Add(1)
		}
		return
	}
	if (res.Switched && prev >= 0 && prev != p.layer) || (layered.Switched && !res.Switched) {
		if m := d.r.p.Metrics; m != nil {
			m.LayerSwitch.Inc() // a simulcast stream or an SVC layer set
		}
	}
	payload, padding, marker := p.payload, p.padding, p.hdr.Marker
	if p.hasVP8 {
		payload = mungeVP8(s.pay, payload, p.vp8, res.PictureID, res.TL0PicIdx)
	}
	if svcOn {
		if layered.Forward {
			marker = layered.Marker
		} else {
			payload, padding, marker = nil, svcGapPadding, false
		}
	}
	n, err := d.send(s, b, p.hdr, payload, padding, outHdr{ssrc: b.ssrc, pt: b.pt, seq: res.Seq, ts: res.TS, marker: marker}, &p.absSend)
	if err != nil {
		d.log.Debug("write rtp", "err", err)
		return
	}
	if n == 0 {
		// pion drops writes silently until the subscriber's DTLS/SRTP is up.
		// If nothing has reached the subscriber yet, start again at the next
		// keyframe so that the first packet it sees is decodable.
		if !d.delivered.Load() {
			d.mu.Lock()
			d.fwd.Restart()
			d.mu.Unlock()
			d.kfNotBefore.Store(d.r.now())
		}
		return
	}
	if !d.delivered.Swap(true) {
		d.kfNotBefore.Store(0) // served: the shared throttle applies from now on
	}
	d.packets.Add(1)
	d.bytes.Add(uint64(n))
	s.pkts++
	s.bytes += n
}

// flushOut adds what the fan-out goroutine owning s wrote to the metrics.
func (r *Receiver) flushOut(s *scratch) {
	if m := r.p.Metrics; m != nil && s.pkts > 0 {
		m.PacketsOut.Add(float64(s.pkts))
		m.BytesOut.Add(float64(s.bytes))
	}
	s.pkts, s.bytes = 0, 0
}

// outHdr is what the subscriber's copy of a packet has of its own.
type outHdr struct {
	ssrc   uint32
	ts     uint32
	seq    uint16
	pt     uint8
	marker bool
}

// send writes in's header extensions (ids rewritten) with o into s and writes
// it with payload.
func (d *DownTrack) send(s *scratch, b *binding, in *rtp.Header, payload []byte, padding byte, o outHdr, absSend *[3]byte) (int, error) {
	h := &s.hdr
	*h = rtp.Header{
		Version:        2,
		Padding:        padding > 0,
		PaddingSize:    padding,
		Marker:         o.marker,
		PayloadType:    o.pt,
		SequenceNumber: o.seq,
		Timestamp:      o.ts,
		SSRC:           o.ssrc,
		Extensions:     h.Extensions[:0],
	}
	for _, id := range b.fwdIDs {
		if v := in.GetExtension(id); v != nil {
			_ = h.SetExtension(b.extMap[id], v) // invalid ids or sizes are dropped
		}
	}
	if b.absSend != 0 {
		s.abs = *absSend
		_ = h.SetExtension(b.absSend, s.abs[:])
	}
	return b.writer.WriteRTP(h, payload)
}

// putAbsSendTime encodes t as a 6.18 fixed-point number of seconds, 24 bits
// (abs-send-time, http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time).
func putAbsSendTime(dst *[3]byte, t time.Time) {
	ns := uint64(t.UnixNano())
	v := ((ns/1e9)<<18 | ((ns%1e9)<<18)/1e9) & 0xffffff
	dst[0], dst[1], dst[2] = byte(v>>16), byte(v>>8), byte(v)
}

// SetEnabled pauses (false) or resumes (true) forwarding: the subscriber's
// UpdateTrackSettings.disabled or a paused subscription. Resumed video waits
// for a keyframe, which is requested.
func (d *DownTrack) SetEnabled(on bool) {
	d.mu.Lock()
	d.fwd.SetEnabled(on)
	a := d.alloc
	d.mu.Unlock()
	if a != nil {
		a.reallocate()
	}
	if on && d.r.kind == forwarder.Video && d.bound.Load() != nil && d.isReady() {
		d.mu.Lock()
		target := d.fwd.TargetLayer()
		d.mu.Unlock()
		d.requestKeyframe(d.r.availableLayer(target))
	}
}

// Enabled reports whether the subscriber wants the track.
func (d *DownTrack) Enabled() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fwd.Enabled()
}

// layerRestarted resynchronises the Forwarder if it was forwarding layer.
func (d *DownTrack) layerRestarted(layer int) {
	d.mu.Lock()
	if d.fwd.CurrentLayer() == layer {
		d.fwd.Resync()
	}
	d.mu.Unlock()
}

func (d *DownTrack) setMuted(muted bool) {
	d.mu.Lock()
	d.fwd.SetMuted(muted)
	d.mu.Unlock()
}

// SetMaxLayer caps the simulcast layer (0..2) the subscriber receives, from
// UpdateTrackSettings quality or dimensions. The switch happens at the next
// keyframe of the new layer, which is requested.
func (d *DownTrack) SetMaxLayer(layer int) {
	if layer < 0 {
		layer = 0
	}
	if layer >= MaxLayers {
		layer = MaxLayers - 1
	}
	d.mu.Lock()
	d.maxLayer = layer
	a := d.alloc
	d.mu.Unlock()
	if a != nil {
		a.reallocate()
		return
	}
	d.updateTarget()
}

// MaxLayer returns the cap set by SetMaxLayer.
func (d *DownTrack) MaxLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.maxLayer
}

// setAllocated records the Allocator's choice.
func (d *DownTrack) setAllocated(layer int) {
	d.mu.Lock()
	d.allocated = layer
	d.mu.Unlock()
	d.updateTarget()
}

// updateTarget points the Forwarder at min(maxLayer, allocated), lowered to
// the highest layer the publisher is actually sending, and asks for a
// keyframe there if that changes the layer.
func (d *DownTrack) updateTarget() {
	d.mu.Lock()
	want := min(d.maxLayer, d.allocated)
	d.mu.Unlock()
	target := d.r.availableLayer(want)
	d.mu.Lock()
	changed := d.fwd.TargetLayer() != target
	d.fwd.SetTargetLayer(target)
	cur := d.fwd.CurrentLayer()
	d.mu.Unlock()
	if changed && cur != target && d.r.kind == forwarder.Video && d.bound.Load() != nil && d.isReady() {
		d.requestKeyframe(target)
	}
}

// CurrentLayer returns the layer being forwarded, -1 when none.
func (d *DownTrack) CurrentLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fwd.CurrentLayer()
}

// TargetLayer returns the layer the DownTrack is switching to (or on).
func (d *DownTrack) TargetLayer() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.fwd.TargetLayer()
}

// Stats returns a snapshot of the DownTrack's counters.
func (d *DownTrack) Stats() DownTrackStats {
	return DownTrackStats{
		Packets:      d.packets.Load(),
		Bytes:        d.bytes.Load(),
		Retransmits:  d.retransmits.Load(),
		RTXPackets:   d.rtxPackets.Load(),
		NacksRecv:    d.nacks.Load(),
		PLIsRecv:     d.plis.Load(),
		Dropped:      d.dropped.Load(),
		FractionLost: float64(d.fractionLost.Load()) / 256,
		Jitter:       uint32(d.jitter.Load()),
		RTT:          time.Duration(d.rtt.Load()),
		Layer:        d.CurrentLayer(),
	}
}

// Close stops forwarding to the subscriber and detaches d from its Receiver
// and Allocator. It does not remove the track from the PeerConnection (the
// session layer does). Idempotent.
func (d *DownTrack) Close() {
	d.r.Unsubscribe(d)
}

func (d *DownTrack) markClosed() {
	if d.closed.Swap(true) {
		return
	}
	d.bound.Store(nil)
	d.mu.Lock()
	a := d.alloc
	d.mu.Unlock()
	if a != nil {
		a.Remove(d)
	}
}

// IsClosed reports whether Close (or the Receiver's Close) was called.
func (d *DownTrack) IsClosed() bool { return d.closed.Load() }

var _ webrtc.TrackLocal = (*DownTrack)(nil)

// availableLayer returns the highest layer <= want that is receiving, else
// the lowest receiving layer above want, else want itself (nothing has
// arrived yet, so whatever comes first may start the subscriber).
func (r *Receiver) availableLayer(want int) int {
	for l := want; l >= 0; l-- {
		if active, _ := r.layerInfo(l); active {
			return l
		}
	}
	for l := want + 1; l < MaxLayers; l++ {
		if active, _ := r.layerInfo(l); active {
			return l
		}
	}
	return want
}
