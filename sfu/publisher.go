package sfu

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/ids"
	"github.com/atrium-live/atrium/sfu/internal/media"
	"github.com/atrium-live/atrium/sfu/internal/webhook"
)

// trackPublisher is who publishes a track, as the rest of the room sees it: ids, and a way to
// signal the publisher. Tracks name their publisher through it rather than a *participant,
// so a track can come from a participant on another node once rooms span nodes (then local
// is nil and signalling goes over the relay).
type trackPublisher struct {
	sid, identity string
	node          string       // the node the publisher is connected to
	local         *participant // the publisher when it is on this node
}

// send signals the publisher (track_subscribed, subscribed_quality_update...).
func (tp trackPublisher) send(m *livekit.SignalResponse) {
	if tp.local != nil {
		tp.local.send(m)
	}
}

// is reports whether p is the publisher.
func (tp trackPublisher) is(p *participant) bool { return p != nil && tp.sid == p.sid }

// publishedTrack is one track a participant publishes, with its media.Receiver.
type publishedTrack struct {
	owner trackPublisher
	sid   string
	cid   string
	recv  *media.Receiver
	// dyn tells the publisher which layers are wanted; nil for audio.
	dyn *dynacast

	mu      sync.Mutex
	info    *livekit.TrackInfo
	readers int // layers still being read
	ended   bool
	retired bool
	// subscribed: the publisher was told of the first subscriber (track_subscribed).
	subscribed bool
	// remote is set for a track relayed from the room's origin (relaytrack.go).
	remote *remoteTrack
}

// firstSubscription reports whether this is the track's first subscription ever.
func (t *publishedTrack) firstSubscription() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := !t.subscribed
	t.subscribed = true
	return first
}

// subscribersChanged re-evaluates what the publisher is asked to send (dynacast) after a
// subscription to t was added or removed, or its settings changed.
func (t *publishedTrack) subscribersChanged() {
	if t.dyn != nil {
		t.dyn.update()
	}
	if t.remote != nil {
		t.remote.demandChanged()
	}
}

func (t *publishedTrack) infoClone() *livekit.TrackInfo {
	t.mu.Lock()
	defer t.mu.Unlock()
	return proto.Clone(t.info).(*livekit.TrackInfo)
}

func (t *publishedTrack) kind() livekit.TrackType {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.info.Type
}

// setupPeerConnections creates both PeerConnections and the server's data channels.
func (p *participant) setupPeerConnections() error {
	pubPC, err := p.s.tr.newPeerConnection(pcParams{AllowCodec: p.room.opts.allowsCodec})
	if err != nil {
		return err
	}
	subPC, err := p.s.tr.newPeerConnection(pcParams{SendOnly: true, OnEstimator: func(_ string, est cc.BandwidthEstimator) { p.onEstimator(est) }})
	if err != nil {
		pubPC.Close()
		return err
	}
	p.pub = newPCSide(pubPC, livekit.SignalTarget_PUBLISHER, p.send)
	p.sub = newPCSide(subPC, livekit.SignalTarget_SUBSCRIBER, p.send)
	p.subNeg = newNegotiator(p.sub, func(err error) {
		p.log.Warn("subscriber negotiation failed", "err", err)
		p.close(closeParams{reason: livekit.DisconnectReason_STATE_MISMATCH, sendLeave: true, action: livekit.LeaveRequest_RECONNECT})
	})
	pubPC.OnTrack(p.onPublisherTrack)
	pubPC.OnDataChannel(p.onPublisherDataChannel)
	for _, pc := range []*webrtc.PeerConnection{pubPC, subPC} {
		pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
			switch st {
			case webrtc.PeerConnectionStateConnected:
				p.onConnected()
			case webrtc.PeerConnectionStateFailed:
				p.log.Info("peer connection failed")
				p.close(closeParams{reason: livekit.DisconnectReason_MEDIA_FAILURE, sendLeave: true, action: livekit.LeaveRequest_RECONNECT})
			}
		})
	}
	if err := p.createDataChannels(); err != nil {
		pubPC.Close()
		subPC.Close()
		return err
	}
	return nil
}

// handleAddTrack answers add_track with track_published (the server's TR_ sid) before any
// media flows; the track becomes visible to others when its media arrives.
func (p *participant) handleAddTrack(req *livekit.AddTrackRequest) {
	reject := func(why string) {
		p.s.metrics.signalErrors.WithLabelValues("add_track").Inc()
		p.log.Info("add_track rejected", "cid", req.Cid, "why", why)
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: &livekit.RequestResponse{
			Reason: livekit.RequestResponse_NOT_ALLOWED, Message: why,
			Request: &livekit.RequestResponse_AddTrack{AddTrack: req},
		}}})
	}
	v := p.grants.Video
	if v == nil || !v.GetCanPublish() {
		reject("canPublish not granted")
		return
	}
	if !v.GetCanPublishSource(req.Source) {
		reject("canPublishSources does not allow " + req.Source.String())
		return
	}
	if req.Cid == "" {
		reject("add_track without cid")
		return
	}
	p.mu.Lock()
	if existing, ok := p.pending[req.Cid]; ok {
		p.mu.Unlock()
		p.send(trackPublishedResponse(req.Cid, existing))
		return
	}
	if len(p.pending) >= 32 {
		p.mu.Unlock()
		reject("too many pending tracks")
		return
	}
	info := &livekit.TrackInfo{
		Sid: ids.NewTrackID(), Type: req.Type, Name: req.Name, Muted: req.Muted,
		Width: req.Width, Height: req.Height, Simulcast: len(req.Layers) > 1,
		DisableDtx: req.DisableDtx, Source: req.Source, Layers: req.Layers,
		Stereo: req.Stereo, DisableRed: req.DisableRed, Encryption: req.Encryption, Stream: req.Stream,
	}
	for _, sc := range req.SimulcastCodecs {
		info.Codecs = append(info.Codecs, &livekit.SimulcastCodecInfo{MimeType: sc.Codec, Cid: sc.Cid, Layers: req.Layers})
	}
	p.pending[req.Cid] = info
	p.mu.Unlock()
	p.send(trackPublishedResponse(req.Cid, info))
}

func trackPublishedResponse(cid string, info *livekit.TrackInfo) *livekit.SignalResponse {
	return &livekit.SignalResponse{Message: &livekit.SignalResponse_TrackPublished{TrackPublished: &livekit.TrackPublishedResponse{
		Cid: cid, Track: proto.Clone(info).(*livekit.TrackInfo),
	}}}
}

// onPublisherTrack is pion's OnTrack for the publisher PC: once per incoming stream (per
// simulcast layer). It matches the stream to an add_track by cid (the msid track id), else
// to the oldest pending track of the same kind.
func (p *participant) onPublisherTrack(remote *webrtc.TrackRemote, rx *webrtc.RTPReceiver) {
	t, first, err := p.trackFor(remote, rx)
	if err != nil {
		p.log.Warn("unexpected publisher track", "track_id", remote.ID(), "rid", remote.RID(), "err", err)
		return
	}
	layer := t.recv.AddLayer(remote.RID(), uint32(remote.SSRC()))
	if layer < 0 {
		p.log.Warn("no room for another simulcast layer", "track", t.sid, "rid", remote.RID())
		p.endLayer(t)
		return
	}
	go p.readRTCP(rx, remote.RID())
	go func() {
		err := t.recv.ReadFrom(layer, remote)
		p.log.Debug("publisher stream ended", "track", t.sid, "rid", remote.RID(), "err", err)
		p.endLayer(t)
	}()
	if first {
		p.changed()
		p.room.trackPublished(t)
		t.subscribersChanged()
		p.s.metrics.tracks.Inc()
		p.room.notify(webhook.TrackPublished, &livekit.WebhookEvent{Room: p.room.info(), Participant: p.info(), Track: t.infoClone()})
	}
}

// trackFor finds or creates the publishedTrack a new incoming stream belongs to.
func (p *participant) trackFor(remote *webrtc.TrackRemote, rx *webrtc.RTPReceiver) (t *publishedTrack, first bool, err error) {
	// pion calls happen before taking p.mu, never under it.
	var mid string
	for _, tr := range p.pub.pc.GetTransceivers() {
		if tr.Receiver() == rx {
			mid = tr.Mid()
		}
	}
	extensions := rx.GetParameters().HeaderExtensions
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing {
		return nil, false, errors.New("participant closing")
	}
	for _, t := range p.tracks {
		if t.cid == remote.ID() && !t.ended {
			t.mu.Lock()
			t.readers++
			t.mu.Unlock()
			return t, false, nil
		}
	}
	kind := livekit.TrackType_AUDIO
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		kind = livekit.TrackType_VIDEO
	}
	cid := remote.ID()
	info, ok := p.pending[cid]
	if !ok || info.Type != kind {
		info = nil
		for c, i := range p.pending {
			if i.Type == kind {
				cid, info = c, i
				break
			}
		}
	}
	if info == nil {
		return nil, false, fmt.Errorf("no add_track for a %s track", strings.ToLower(kind.String()))
	}
	delete(p.pending, cid)
	codec := remote.Codec()
	info.MimeType = codec.MimeType
	info.Mid = mid
	for _, c := range info.Codecs {
		if c.Cid == cid || strings.EqualFold(c.MimeType, codec.MimeType) {
			c.Mid = info.Mid
		}
	}
	rtcpWriter := p.pub.pc
	t = &publishedTrack{owner: trackPublisher{sid: p.sid, identity: p.identity, node: p.s.cfg.NodeID, local: p}, sid: info.Sid, cid: remote.ID(), info: info, readers: 1}
	t.recv = media.NewReceiver(media.ReceiverParams{
		TrackID: info.Sid, Kind: remote.Kind(), Codec: codec,
		HeaderExtensions: extensions,
		WriteRTCP:        func(pkts []rtcp.Packet) error { return rtcpWriter.WriteRTCP(pkts) },
		Logger:           p.log.With("track", info.Sid),
		Metrics:          p.s.mediaMetrics,
		Batch:            p.s.tr.batcher(),
	})
	t.recv.SetMuted(info.Muted)
	if remote.Kind() == webrtc.RTPCodecTypeVideo {
		t.dyn = newDynacast(t, codec.MimeType, p.s.cfg.Room.DynacastPauseDelay)
	}
	p.tracks[info.Sid] = t
	return t, true, nil
}

// readRTCP drains the publisher's RTCP (sender reports) so pion's interceptors see it.
func (p *participant) readRTCP(rx *webrtc.RTPReceiver, rid string) {
	for {
		var err error
		if rid == "" {
			_, _, err = rx.ReadRTCP()
		} else {
			_, _, err = rx.ReadSimulcastRTCP(rid)
		}
		if err != nil {
			return
		}
	}
}

// endLayer is called when one incoming stream of t stops; the last one unpublishes t.
func (p *participant) endLayer(t *publishedTrack) {
	t.mu.Lock()
	t.readers--
	last := t.readers <= 0 && !t.ended
	if last {
		t.ended = true
	}
	t.mu.Unlock()
	if !last {
		return
	}
	p.mu.Lock()
	_, mine := p.tracks[t.sid]
	closing := p.closing
	if mine && !closing {
		delete(p.tracks, t.sid)
	}
	p.mu.Unlock()
	if !mine || closing {
		// Someone else retires it: unpublish took it out of the map, or cleanup (which
		// retires every track still in the map) is coming. A track ending while p closes
		// (the client's DTLS close arrives before its Leave is handled) must stay in the
		// map, or nobody retires it and track_unpublished is never sent.
		return
	}
	// The client removed the track itself: others learn from the update; the publisher
	// needs no track_unpublished (that is for server-initiated unpublishing, see
	// Server.UnpublishTrack).
	p.retireTrack(t)
	p.changed()
}

// unpublish removes one of p's tracks on the server's initiative and tells p with
// track_unpublished, so its SDK stops sending it.
func (p *participant) unpublish(sid string) bool {
	p.mu.Lock()
	t := p.tracks[sid]
	delete(p.tracks, sid)
	p.mu.Unlock()
	if t == nil {
		return false
	}
	t.mu.Lock()
	t.ended = true
	t.mu.Unlock()
	p.retireTrack(t)
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackUnpublished{TrackUnpublished: &livekit.TrackUnpublishedResponse{TrackSid: sid}}})
	p.changed()
	return true
}

// retireTrack removes t from every subscriber and closes its receiver. Idempotent.
func (p *participant) retireTrack(t *publishedTrack) {
	t.mu.Lock()
	if t.retired {
		t.mu.Unlock()
		return
	}
	t.retired = true
	t.mu.Unlock()
	if t.dyn != nil {
		t.dyn.close()
	}
	p.room.trackUnpublished(t)
	t.recv.Close()
	p.s.metrics.tracks.Dec()
	p.room.notify(webhook.TrackUnpublished, &livekit.WebhookEvent{Room: p.room.info(), Participant: p.info(), Track: t.infoClone()})
}

func (p *participant) publishedTrack(sid string) *publishedTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.tracks[sid]
}

func (p *participant) publishedTracks() []*publishedTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*publishedTrack, 0, len(p.tracks))
	for _, t := range p.tracks {
		out = append(out, t)
	}
	return out
}

// handleMute applies the publisher's own mute; others see it in the participant update.
func (p *participant) handleMute(m *livekit.MuteTrackRequest) {
	if !p.setMuted(m.Sid, m.Muted) {
		p.s.metrics.signalErrors.WithLabelValues("mute_unknown_track").Inc()
	}
}

// setMuted mutes or unmutes one of p's tracks (published or pending) and reports whether
// it exists.
func (p *participant) setMuted(sid string, muted bool) bool {
	p.mu.Lock()
	t := p.tracks[sid]
	if t == nil {
		for _, info := range p.pending {
			if info.Sid == sid {
				info.Muted = muted
				p.mu.Unlock()
				return true
			}
		}
		p.mu.Unlock()
		return false
	}
	p.mu.Unlock()
	t.mu.Lock()
	changed := t.info.Muted != muted
	t.info.Muted = muted
	t.mu.Unlock()
	t.recv.SetMuted(muted)
	if changed {
		p.changed()
		p.room.streamChanged(t)
		if !muted && t.dyn != nil {
			t.dyn.resend()
		}
	}
	return true
}
