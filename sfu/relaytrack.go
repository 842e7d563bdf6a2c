package sfu

import (
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/pkg/relaywire"
	"github.com/atrium-live/atrium/sfu/internal/media"
)

// relayExtID is the header extension id the link uses for the audio level (the only
// extension that crosses it; the rest describe a subscriber's own transport).
const relayExtID = 1

var relayExtensions = []webrtc.RTPHeaderExtensionParameter{{URI: sdp.AudioLevelURI, ID: relayExtID}}

// relaySSRC names a track's layer on the link; both ends compute it.
func relaySSRC(track string, layer int) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(track))
	return h.Sum32()&^3 | uint32(layer)
}

var layerRIDs = [media.MaxLayers]string{"q", "h", "f"}

// sinkKey names one stream the origin sends: a layer of a track to a relay node.
type sinkKey struct {
	peer, track string
	layer       int
}

// relaySink is, on the origin, one layer of one track sent to one relay node: a
// media.DownTrack like any subscriber's (so dynacast sees the relay node's demand, NACKs
// are answered from the shared buffer and PLIs are throttled upstream), bound to the link
// instead of a PeerConnection.
type relaySink struct {
	svc  *relayService
	key  sinkKey
	t    *publishedTrack
	dt   *media.DownTrack
	pool sync.Pool
}

// pull makes the origin send exactly layers of track to peer (called for KindPull).
func (sp *span) pull(peer, trackSID string, layers []int) {
	svc := sp.svc
	// A track published here, or (on the origin) one received from a relay node for the
	// other relay nodes; never back to the node it comes from.
	t := sp.r.findTrack(trackSID)
	if t != nil && t.remote != nil && t.remote.sourceNode() == peer {
		t = nil
	}
	if sp.origin != "" {
		// A relay node feeding others (a tree): a pull may come before the origin's news
		// of the track; it is replayed when the track appears.
		sp.mu.Lock()
		k := pullKey{peer: peer, track: trackSID}
		if t == nil && len(layers) > 0 {
			sp.pendingPulls[k] = slices.Clone(layers)
		} else {
			delete(sp.pendingPulls, k)
		}
		sp.mu.Unlock()
	}
	want := [media.MaxLayers]bool{}
	for _, l := range layers {
		if l >= 0 && l < media.MaxLayers {
			want[l] = true
		}
	}
	var add []sinkKey
	var drop []*relaySink
	svc.mu.Lock()
	for l := 0; l < media.MaxLayers; l++ {
		k := sinkKey{peer: peer, track: trackSID, layer: l}
		cur := svc.sinks[k]
		switch {
		case want[l] && t != nil && cur == nil:
			add = append(add, k)
		case (!want[l] || t == nil) && cur != nil:
			drop = append(drop, cur)
			delete(svc.sinks, k)
		}
	}
	svc.mu.Unlock()
	for _, sk := range drop {
		sk.close()
	}
	for _, k := range add {
		sk, err := newRelaySink(svc, k, t)
		if err != nil {
			svc.log.Warn("relay sink", "peer", peer, "track", trackSID, "layer", k.layer, "err", err)
			continue
		}
		svc.mu.Lock()
		if svc.sinks[k] == nil {
			svc.sinks[k] = sk
			sk = nil
		}
		svc.mu.Unlock()
		if sk != nil {
			sk.close()
		} else {
			svc.m.streamsOut.Inc()
		}
	}
	if t != nil && (len(add) > 0 || len(drop) > 0) {
		t.subscribersChanged()
	}
}

// replayPulls (relay) serves the pulls that came for track before it was known here.
func (sp *span) replayPulls(track string) {
	sp.mu.Lock()
	var peers []string
	var layers [][]int
	for k, ls := range sp.pendingPulls {
		if k.track == track {
			peers, layers = append(peers, k.peer), append(layers, ls)
		}
	}
	sp.mu.Unlock()
	for i, p := range peers {
		sp.pull(p, track, layers[i])
	}
}

// dropSinks stops the sinks of track (to peer, or to every peer when peer is empty): the
// track is gone here, or its room is.
func (svc *relayService) dropSinks(peer, track string) {
	svc.mu.Lock()
	var drop []*relaySink
	for k, sk := range svc.sinks {
		if k.track == track && (peer == "" || k.peer == peer) {
			drop = append(drop, sk)
			delete(svc.sinks, k)
		}
	}
	svc.mu.Unlock()
	for _, sk := range drop {
		sk.close()
	}
}

func newRelaySink(svc *relayService, k sinkKey, t *publishedTrack) (*relaySink, error) {
	codec := t.recv.Codec()
	dt, err := t.recv.Subscribe(media.DownTrackParams{
		SubscriberID: "relay:" + k.peer,
		StreamID:     t.owner.sid + "|" + t.sid,
		Codecs:       []webrtc.RTPCodecParameters{codec},
		Logger:       svc.log.With("track", t.sid, "peer", k.peer, "layer", k.layer),
	})
	if err != nil {
		return nil, err
	}
	sk := &relaySink{svc: svc, key: k, t: t, dt: dt}
	if t.remote == nil && t.firstSubscription() {
		// The publisher learns its track is subscribed (livekit-client's localTrackSubscribed)
		// when the first subscriber is on another node, too.
		t.owner.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackSubscribed{
			TrackSubscribed: &livekit.TrackSubscribed{TrackSid: t.sid},
		}})
	}
	sk.pool.New = func() any { b := make([]byte, 0, 2048); return &b }
	dt.SetMaxLayer(k.layer)
	if _, err := dt.Bind(sinkContext{sk: sk, codec: codec}); err != nil {
		t.recv.Unsubscribe(dt)
		return nil, err
	}
	return sk, nil
}

func (sk *relaySink) close() {
	sk.t.recv.Unsubscribe(sk.dt)
	sk.dt.Close()
	sk.svc.m.streamsOut.Dec()
}

// handleRTCP is feedback from the relay node for this layer: NACKs, PLIs.
func (sk *relaySink) handleRTCP(raw []byte) {
	pkts, err := rtcp.Unmarshal(raw)
	if err != nil {
		return
	}
	sk.dt.HandleRTCP(pkts)
}

// WriteRTP implements webrtc.TrackLocalWriter for the DownTrack: the packet goes to the
// relay node in one sealed datagram.
func (sk *relaySink) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	bp := sk.pool.Get().(*[]byte)
	defer sk.pool.Put(bp)
	n := h.MarshalSize()
	b := (*bp)[:n]
	if _, err := h.MarshalTo(b); err != nil {
		return 0, err
	}
	b = append(b, payload...)
	return sk.Write(b)
}

// Write implements webrtc.TrackLocalWriter.
func (sk *relaySink) Write(b []byte) (int, error) {
	bp := sk.pool.Get().(*[]byte)
	defer sk.pool.Put(bp)
	if err := sk.svc.sendMedia(sk.key.peer, relaywire.TypeRTP, sk.key.track, sk.key.layer, b, bp); err != nil {
		return 0, err
	}
	sk.svc.m.packetsOut.Inc()
	return len(b), nil
}

// sinkContext is the TrackLocalContext a relay sink's DownTrack is bound with.
type sinkContext struct {
	sk    *relaySink
	codec webrtc.RTPCodecParameters
}

func (c sinkContext) CodecParameters() []webrtc.RTPCodecParameters {
	return []webrtc.RTPCodecParameters{c.codec}
}
func (c sinkContext) HeaderExtensions() []webrtc.RTPHeaderExtensionParameter {
	return relayExtensions
}
func (c sinkContext) SSRC() webrtc.SSRC {
	return webrtc.SSRC(relaySSRC(c.sk.key.track, c.sk.key.layer))
}
func (c sinkContext) SSRCRetransmission() webrtc.SSRC         { return 0 }
func (c sinkContext) SSRCForwardErrorCorrection() webrtc.SSRC { return 0 }
func (c sinkContext) WriteStream() webrtc.TrackLocalWriter    { return c.sk }
func (c sinkContext) ID() string                              { return "relay:" + c.sk.key.peer }
func (c sinkContext) RTCPReader() interceptor.RTCPReader      { return nil }

// remoteTrack is, on a relay node, a track published on the origin (or, on the origin, one
// published on a relay node): a publishedTrack whose publisher is remote and whose
// receiver is fed by a link. It pulls the layers the node's subscribers (and the relay
// nodes it feeds) want from its source, adding at once and dropping after the dynacast
// pause delay, and sends its receiver's NACKs and PLIs there. The source is the node the
// publisher is on, or in a tree the relay node feeding this one; it changes when the tree
// is rebuilt (setSource).
type remoteTrack struct {
	t         *publishedTrack
	ownerInfo *livekit.ParticipantInfo // the publisher as first announced (webhooks)
	svc       *relayService
	room      string
	simulcast bool
	delay     time.Duration

	mu      sync.Mutex
	source  string // the node media comes from
	pulled  [media.MaxLayers]bool
	added   [media.MaxLayers]bool
	pending bool
	closed  bool
	rtcpBuf []byte
}

func newRemoteTrack(svc *relayService, sp *span, origin, source string, owner *livekit.ParticipantInfo, info *livekit.TrackInfo, tc relaywire.TrackCodec) *remoteTrack {
	kind := webrtc.RTPCodecTypeAudio
	if info.Type == livekit.TrackType_VIDEO {
		kind = webrtc.RTPCodecTypeVideo
	}
	rt := &remoteTrack{svc: svc, source: source, ownerInfo: owner, room: sp.r.name, simulcast: info.Simulcast && kind == webrtc.RTPCodecTypeVideo,
		delay: svc.s.cfg.Room.DynacastPauseDelay}
	t := &publishedTrack{
		owner: trackPublisher{sid: owner.Sid, identity: owner.Identity, node: origin},
		sid:   info.Sid, info: info, readers: 1, remote: rt,
	}
	t.recv = media.NewReceiver(media.ReceiverParams{
		TrackID: info.Sid, Kind: kind,
		Codec: webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: tc.MimeType, ClockRate: tc.ClockRate, Channels: tc.Channels, SDPFmtpLine: tc.Fmtp},
			PayloadType:        webrtc.PayloadType(tc.PayloadType),
		},
		HeaderExtensions: relayExtensions,
		WriteRTCP:        rt.writeRTCP,
		Logger:           sp.r.log.With("track", info.Sid, "origin", origin),
		Metrics:          svc.s.mediaMetrics,
		Batch:            svc.s.tr.batcher(),
	})
	t.recv.SetMuted(info.Muted)
	rt.t = t
	return rt
}

// layerOf maps a link SSRC back to its layer.
func (rt *remoteTrack) layerOf(ssrc uint32) int {
	for l := 0; l < media.MaxLayers; l++ {
		if relaySSRC(rt.t.sid, l) == ssrc {
			return l
		}
	}
	return -1
}

// writeRTCP sends the receiver's feedback (NACK, PLI) to the origin, one datagram per
// layer it concerns.
func (rt *remoteTrack) writeRTCP(pkts []rtcp.Packet) error {
	for _, p := range pkts {
		ssrcs := p.DestinationSSRC()
		if len(ssrcs) == 0 {
			continue
		}
		layer := rt.layerOf(ssrcs[0])
		if layer < 0 {
			continue
		}
		raw, err := p.Marshal()
		if err != nil {
			return err
		}
		rt.mu.Lock()
		err = rt.svc.sendMedia(rt.source, relaywire.TypeRTCP, rt.t.sid, layer, raw, &rt.rtcpBuf)
		rt.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// write feeds one relayed RTP packet from peer (called from the UDP reader only); it
// reports whether the packet was taken (it comes from the track's source).
func (rt *remoteTrack) write(peer string, layer int, pkt []byte) bool {
	if layer < 0 || layer >= media.MaxLayers {
		return false
	}
	rt.mu.Lock()
	if rt.closed || rt.source != peer {
		rt.mu.Unlock()
		return false
	}
	if !rt.added[layer] {
		rt.added[layer] = true
		rid := layerRIDs[layer]
		if !rt.simulcast {
			rid = ""
		}
		rt.t.recv.AddLayer(rid, relaySSRC(rt.t.sid, layer))
	}
	rt.mu.Unlock()
	_ = rt.t.recv.WriteRTP(layer, pkt, time.Now())
	return true
}

// repull sends the current pull again if the track comes from peer (its link was down).
func (rt *remoteTrack) repull(peer string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed || rt.source != peer {
		return
	}
	cur := rt.pulled
	rt.pulled = [media.MaxLayers]bool{}
	for _, on := range cur {
		if on {
			rt.svc.m.streamsIn.Dec()
		}
	}
	rt.sendPullLocked(cur)
}

// sourceNode is the node the track's media comes from.
func (rt *remoteTrack) sourceNode() string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.source
}

// setSource moves the track to another source (the relay tree was rebuilt): the old one is
// told to stop (if its link is still up), the new one gets the layers wanted now. The
// receiver sees the new source's numbering as a restart.
func (rt *remoteTrack) setSource(n string) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed || rt.source == n {
		return
	}
	old, had := rt.source, rt.pulled
	rt.source = n
	rt.pulled = [media.MaxLayers]bool{}
	pulling := false
	for _, on := range had {
		if on {
			pulling = true
			rt.svc.m.streamsIn.Dec()
		}
	}
	if pulling {
		rt.svc.sendIfLinked(old, &relaywire.Control{Kind: relaywire.KindPull, Room: rt.room, Track: rt.t.sid})
	}
	rt.sendPullLocked(rt.wanted())
}

// wanted is the set of layers the node's subscribers ask for: for video each enabled
// subscriber's chosen quality (a non-simulcast track has layer 0 only), for audio layer 0
// when anyone listens.
func (rt *remoteTrack) wanted() (w [media.MaxLayers]bool) {
	for _, dt := range rt.t.recv.DownTracks() {
		if dt.IsClosed() || !dt.Enabled() {
			continue
		}
		l := 0
		if rt.simulcast {
			l = min(dt.MaxLayer(), media.MaxLayers-1)
		}
		w[l] = true
	}
	return w
}

// demandChanged re-evaluates what to pull after a local subscription changed: new
// layers at once, layers nobody wants any more after the pause delay.
func (rt *remoteTrack) demandChanged() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if rt.closed {
		return
	}
	w := rt.wanted()
	lower := false
	next := rt.pulled
	for l := range w {
		if w[l] && !next[l] {
			next[l] = true
		}
		if !w[l] && next[l] {
			lower = true
		}
	}
	if lower && rt.delay > 0 {
		if !rt.pending {
			rt.pending = true
			time.AfterFunc(rt.delay, rt.expire)
		}
	} else if lower {
		next = w
	}
	rt.sendPullLocked(next)
}

func (rt *remoteTrack) expire() {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.pending = false
	if !rt.closed {
		rt.sendPullLocked(rt.wanted())
	}
}

func (rt *remoteTrack) sendPullLocked(next [media.MaxLayers]bool) {
	if next == rt.pulled {
		return
	}
	var layers []int
	for l, on := range next {
		if on != rt.pulled[l] {
			if on {
				rt.svc.m.streamsIn.Inc()
			} else {
				rt.svc.m.streamsIn.Dec()
			}
		}
		if on {
			layers = append(layers, l)
		}
	}
	rt.pulled = next
	// Sent under rt.mu so that pulls reach the origin in the order they were decided (the
	// link to the origin exists: the room attached through it, so this only queues).
	c := &relaywire.Control{Kind: relaywire.KindPull, Room: rt.room, Track: rt.t.sid, Layers: layers}
	if err := rt.svc.send(rt.source, c); err != nil {
		rt.svc.log.Info("relay pull not sent", "track", rt.t.sid, "err", err)
	}
}

// pulledLayers reports what the node currently pulls (tests, metrics).
func (rt *remoteTrack) pulledLayers() [media.MaxLayers]bool {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return rt.pulled
}

// close stops pulling and closes the receiver (its DownTracks end).
func (rt *remoteTrack) close() {
	rt.mu.Lock()
	if rt.closed {
		rt.mu.Unlock()
		return
	}
	rt.closed = true
	was := rt.pulled
	rt.pulled = [media.MaxLayers]bool{}
	source := rt.source
	rt.mu.Unlock()
	n := 0
	for _, on := range was {
		if on {
			n++
			rt.svc.m.streamsIn.Dec()
		}
	}
	if n > 0 {
		rt.svc.sendIfLinked(source, &relaywire.Control{Kind: relaywire.KindPull, Room: rt.room, Track: rt.t.sid})
	}
	rt.svc.mu.Lock()
	if rt.svc.remote[rt.t.sid] == rt {
		delete(rt.svc.remote, rt.t.sid)
	}
	rt.svc.mu.Unlock()
}
