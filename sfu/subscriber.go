package sfu

import (
	"github.com/livekit/protocol/livekit"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/ids"
	"github.com/atrium-live/atrium/sfu/internal/media"
)

// maxExplicit bounds the explicit subscription choices remembered per participant.
const maxExplicit = 4096

// subscription is one track a participant receives: a media.DownTrack on its subscriber PC.
// dt and sender are nil while the subscription is being set up.
type subscription struct {
	track  *publishedTrack
	dt     *media.DownTrack
	sender *webrtc.RTPSender
	// offerBase is the subscriber PC's offer count when dt was added: the client has the
	// track once an offer after it was answered (streamstate.go).
	offerBase uint32
	// paused is the stream state last sent for this subscription (LiveKit clients start
	// from active); guarded by the subscriber's streamMu.
	paused bool
}

// release detaches the down track from its receiver and closes it.
func (s *subscription) release() {
	if s.dt == nil {
		return
	}
	s.track.recv.Unsubscribe(s.dt)
	s.dt.Close()
}

// offerTrack subscribes p to t if p wants it: an explicit subscription decides, else the
// auto_subscribe join parameter.
func (p *participant) offerTrack(t *publishedTrack) {
	if !p.canSubscribe() || t.owner.is(p) {
		return
	}
	p.mu.Lock()
	want, explicit := p.explicit[t.sid]
	p.mu.Unlock()
	if !explicit {
		want = p.join.AutoSubscribe
	}
	if want {
		p.subscribe(t)
	}
}

// subscribe adds a DownTrack for t to the subscriber PC and renegotiates. pion calls are
// made without p.mu held.
func (p *participant) subscribe(t *publishedTrack) {
	p.mu.Lock()
	if p.closing || p.subs[t.sid] != nil {
		p.mu.Unlock()
		return
	}
	placeholder := &subscription{track: t}
	p.subs[t.sid] = placeholder
	p.mu.Unlock()

	kind := t.recv.Kind()
	dt, err := t.recv.Subscribe(media.DownTrackParams{
		SubscriberID: p.sid,
		StreamID:     ids.StreamID(t.owner.sid, t.sid),
		Codecs:       media.Codecs(kind),
		Logger:       p.log.With("track", t.sid),
		SelectSVC:    true, // this subscriber decodes: VP9 spatial layers per its wishes
	})
	if err == nil && p.single != nil {
		p.subscribeSingle(t, placeholder, dt)
		return
	}
	var (
		tr   *webrtc.RTPTransceiver
		base uint32
	)
	if err == nil {
		// base is read with the transceiver added, not under p.mu: the negotiator sends
		// under its lock.
		tr, base, err = p.subNeg.addTrack(dt, dt.CodecPreferences())
		if err != nil {
			t.recv.Unsubscribe(dt)
			dt.Close()
		}
	}
	if err != nil {
		p.log.Warn("subscribe failed", "track", t.sid, "err", err)
		p.mu.Lock()
		if p.subs[t.sid] == placeholder {
			delete(p.subs, t.sid)
		}
		p.mu.Unlock()
		return
	}
	// Writes before the subscriber's DTLS is up are dropped by pion; with the transport the
	// DownTrack waits for it and then asks for a fresh keyframe (fast late join).
	dt.SetTransport(tr.Sender().Transport())

	p.mu.Lock()
	if p.closing || p.subs[t.sid] != placeholder {
		p.mu.Unlock()
		t.recv.Unsubscribe(dt)
		dt.Close()
		p.subNeg.removeSender(tr.Sender())
		return
	}
	placeholder.dt, placeholder.sender = dt, tr.Sender()
	placeholder.offerBase = base
	settings := p.trackSettings[t.sid]
	p.mu.Unlock()

	p.alloc.Add(dt)
	if settings != nil {
		applyTrackSettings(placeholder, settings)
	}
	t.subscribersChanged()
	go readSenderRTCP(tr.Sender(), dt)
	p.subNeg.negotiate()
	if t.firstSubscription() {
		// LiveKit tells the publisher when a track is first subscribed (livekit-client
		// emits localTrackSubscribed).
		t.owner.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_TrackSubscribed{
			TrackSubscribed: &livekit.TrackSubscribed{TrackSid: t.sid},
		}})
	}
}

// readSenderRTCP hands the subscriber's feedback for one track (NACK, PLI, receiver
// reports) to its DownTrack until the sender stops.
func readSenderRTCP(sender *webrtc.RTPSender, dt *media.DownTrack) {
	buf := make([]byte, 1500)
	for {
		n, attr, err := sender.Read(buf)
		if err != nil {
			return
		}
		// Most of what a subscriber sends is transport-cc feedback, which the estimator read
		// from the raw bytes already and the DownTrack ignores: do not parse it into objects.
		if media.OnlyTransportFeedback(buf[:n]) {
			continue
		}
		pkts, err := attr.GetRTCPPackets(buf[:n])
		if err != nil {
			continue
		}
		dt.HandleRTCP(pkts)
	}
}

// dropSubscription removes the subscription to trackSID, if any, and renegotiates. The
// DownTrack stops and leaves its receiver at once; its sender leaves the subscriber PC now,
// or once the offer in flight is answered (negotiator.removeSender), and the offer after
// that shows the client the track ended.
func (p *participant) dropSubscription(trackSID string) {
	p.mu.Lock()
	sub := p.subs[trackSID]
	delete(p.subs, trackSID)
	closing := p.closing
	p.mu.Unlock()
	if sub == nil || sub.dt == nil {
		return
	}
	p.alloc.Remove(sub.dt)
	sub.release()
	sub.track.subscribersChanged()
	if closing {
		return
	}
	if p.single != nil {
		p.single.remove(sub.dt)
		return
	}
	p.subNeg.removeSender(sub.sender)
}

// handleSubscription applies an explicit subscribe or unsubscribe.
func (p *participant) handleSubscription(m *livekit.UpdateSubscription) {
	sids := append([]string(nil), m.TrackSids...)
	for _, pt := range m.ParticipantTracks {
		sids = append(sids, pt.TrackSids...)
	}
	p.mu.Lock()
	for _, sid := range sids {
		// Bounded: a client cannot grow server memory with made-up sids.
		if _, known := p.explicit[sid]; known || len(p.explicit) < maxExplicit {
			p.explicit[sid] = m.Subscribe
		}
	}
	p.mu.Unlock()
	for _, sid := range sids {
		if !m.Subscribe {
			p.dropSubscription(sid)
			continue
		}
		if !p.canSubscribe() {
			p.s.metrics.signalErrors.WithLabelValues("subscribe_denied").Inc()
			continue
		}
		t := p.room.findTrack(sid)
		if t == nil {
			p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_SubscriptionResponse{SubscriptionResponse: &livekit.SubscriptionResponse{
				TrackSid: sid, Err: livekit.SubscriptionError_SE_TRACK_NOTFOUND,
			}}})
			continue
		}
		if !t.owner.is(p) {
			p.subscribe(t)
		}
	}
}

// handleTrackSettings stores and applies a subscriber's wishes for tracks it receives.
func (p *participant) handleTrackSettings(m *livekit.UpdateTrackSettings) {
	for _, sid := range m.TrackSids {
		s := proto.Clone(m).(*livekit.UpdateTrackSettings)
		s.TrackSids = nil
		p.mu.Lock()
		if len(p.trackSettings) < 1024 || p.trackSettings[sid] != nil {
			p.trackSettings[sid] = s
		}
		sub := p.subs[sid]
		p.mu.Unlock()
		if sub != nil && sub.dt != nil {
			applyTrackSettings(sub, s)
			sub.track.subscribersChanged()
		}
	}
}

func applyTrackSettings(sub *subscription, s *livekit.UpdateTrackSettings) {
	sub.dt.SetEnabled(!s.Disabled)
	if sub.track.kind() == livekit.TrackType_VIDEO {
		sub.dt.SetMaxLayer(maxLayerFor(sub.track.infoClone(), s))
	}
}

// maxLayerFor maps UpdateTrackSettings to a simulcast layer index (0 = low, 2 = high): the
// smallest published layer covering the requested width and height when those are given
// (adaptive stream), else the requested quality.
func maxLayerFor(info *livekit.TrackInfo, s *livekit.UpdateTrackSettings) int {
	if s.Width > 0 || s.Height > 0 {
		best := -1
		for _, l := range info.Layers {
			q := qualityLayer(l.Quality)
			if l.Width >= s.Width && l.Height >= s.Height && (best < 0 || q < best) {
				best = q
			}
		}
		if best >= 0 {
			return best
		}
		return media.MaxLayers - 1
	}
	return qualityLayer(s.Quality)
}

func qualityLayer(q livekit.VideoQuality) int {
	switch q {
	case livekit.VideoQuality_LOW:
		return 0
	case livekit.VideoQuality_MEDIUM:
		return 1
	default:
		return media.MaxLayers - 1
	}
}

// onEstimator receives the subscriber PC's bandwidth estimator (pion calls it while the PC
// is being built).
func (p *participant) onEstimator(est cc.BandwidthEstimator) {
	alloc := p.alloc
	est.OnTargetBitrateChange(func(bps int) { alloc.SetEstimate(bps) })
	alloc.SetEstimate(est.GetTargetBitrate())
}
