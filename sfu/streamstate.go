package sfu

import (
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/sfu/internal/media"
)

// streamStateInterval is how often the room looks for video tracks whose stream stopped or
// resumed (a layer counts as receiving for a second after its last packet).
const streamStateInterval = 250 * time.Millisecond

// Stream state (stream_state_update) tells a subscriber that a video track it receives is
// PAUSED, nothing can be forwarded, or ACTIVE again, so SDKs can show the right state
// (livekit-client's Track.streamState and TrackStreamStateChanged). A track is paused
// while its publisher has muted it or while none of its layers is arriving (the publisher
// stopped sending, e.g. dynacast turned every layer off). LiveKit itself reports PAUSED
// only when its bandwidth allocator pauses a track; Atrium's allocator never pauses one
// (every track keeps layer 0), so the states above are what a subscriber can be told.
//
// Only video is reported, as LiveKit does. A subscription the subscriber disabled itself
// (track_setting disabled, adaptive stream hiding it) keeps its last state: the client
// knows why it gets nothing. States are sent once the client knows the track (an offer
// containing it was answered); clients start from ACTIVE, so a subscription starts there.

// pausedNow reports whether t has nothing a subscriber could be sent, from its receiver's
// stats; known is false while dynacast has just asked the publisher for layers again and
// they have not arrived yet (a subscriber re-enabling an idle track would otherwise be told
// PAUSED and then ACTIVE a moment later).
func pausedNow(t *publishedTrack, st *media.ReceiverStats) (paused, known bool) {
	if t.recv.Muted() {
		return true, true
	}
	for _, l := range st.Layers {
		if l.Active {
			return false, true
		}
	}
	return true, !t.dyn.resuming()
}

// updateStreamStates is the periodic check, run by the activity goroutine: it also lets
// dynacast notice layers coming back.
func (r *room) updateStreamStates() {
	ps := r.snapshot()
	paused := make(map[*publishedTrack]bool)
	for _, p := range ps {
		for _, t := range p.publishedTracks() {
			if t.dyn == nil {
				continue // audio
			}
			st := t.recv.Stats()
			t.dyn.checkLayers(&st)
			if now, known := pausedNow(t, &st); known {
				paused[t] = now
			}
		}
	}
	if len(paused) == 0 {
		return
	}
	for _, p := range ps {
		p.refreshStreamStates(paused)
	}
}

// streamChanged re-evaluates t's stream state for its subscribers at once (its publisher
// muted or unmuted it), instead of waiting for the next periodic check.
func (r *room) streamChanged(t *publishedTrack) {
	if t.dyn == nil {
		return
	}
	st := t.recv.Stats()
	now, known := pausedNow(t, &st)
	if !known {
		return
	}
	paused := map[*publishedTrack]bool{t: now}
	for _, o := range r.othersThan(t.owner) {
		o.refreshStreamStates(paused)
	}
}

// refreshStreamStates sends p one stream_state_update with its subscriptions whose state
// differs from what it was last told; paused holds the current state of the tracks to
// consider.
func (p *participant) refreshStreamStates(paused map[*publishedTrack]bool) {
	p.streamMu.Lock()
	defer p.streamMu.Unlock()
	p.mu.Lock()
	subs := make([]*subscription, 0, len(p.subs))
	for _, s := range p.subs {
		if s.dt != nil {
			subs = append(subs, s)
		}
	}
	p.mu.Unlock()
	var states []*livekit.StreamStateInfo
	for _, s := range subs {
		now, ok := paused[s.track]
		if !ok || now == s.paused || !s.dt.Enabled() || !p.clientHas(s) {
			continue
		}
		s.paused = now
		state := livekit.StreamState_ACTIVE
		if now {
			state = livekit.StreamState_PAUSED
		}
		states = append(states, &livekit.StreamStateInfo{
			ParticipantSid: s.track.owner.sid, TrackSid: s.track.sid, State: state,
		})
	}
	if len(states) > 0 {
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_StreamStateUpdate{
			StreamStateUpdate: &livekit.StreamStateUpdate{StreamStates: states},
		}})
	}
}
