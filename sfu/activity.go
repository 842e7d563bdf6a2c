package sfu

import (
	"math"
	"sort"
	"time"

	"github.com/livekit/protocol/livekit"
)

// activity is the room's speaker and connection-quality state; only runActivity touches it.
type activity struct {
	speaking map[string]float32       // participant sid -> level last announced
	samples  map[string]qualitySample // participant sid -> counters at the last quality tick
}

// qualitySample are cumulative counters a quality tick differences.
type qualitySample struct {
	inPackets, inLost uint64
}

// runActivity announces active speakers, connection quality and stream states
// (streamstate.go) until the room closes.
func (r *room) runActivity() {
	defer r.wg.Done()
	r.activity = activity{speaking: map[string]float32{}, samples: map[string]qualitySample{}}
	sp := time.NewTicker(r.deps.signal.SpeakerInterval)
	defer sp.Stop()
	q := time.NewTicker(r.deps.signal.QualityInterval)
	defer q.Stop()
	ss := time.NewTicker(streamStateInterval)
	defer ss.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-sp.C:
			r.updateSpeakers()
		case <-q.C:
			r.updateQuality()
		case <-ss.C:
			r.updateStreamStates()
		}
	}
}

// updateSpeakers sends speakers_changed when the set of active speakers changes (LiveKit
// sends the changed entries; inactive ones with active=false).
func (r *room) updateSpeakers() {
	ps := r.snapshot()
	now := map[string]float32{}
	for _, p := range ps {
		if p.hidden() {
			continue
		}
		var best float64
		active := false
		for _, t := range p.publishedTracks() {
			if t.kind() != livekit.TrackType_AUDIO || t.recv.Muted() {
				continue
			}
			if lvl, on := t.recv.AudioLevel(); on {
				active = true
				best = math.Max(best, lvl)
			}
		}
		if active {
			now[p.sid] = float32(best)
		}
	}
	var changed []*livekit.SpeakerInfo
	for sid, lvl := range now {
		if _, was := r.activity.speaking[sid]; !was {
			changed = append(changed, &livekit.SpeakerInfo{Sid: sid, Level: lvl, Active: true})
		}
	}
	for sid := range r.activity.speaking {
		if _, is := now[sid]; !is {
			changed = append(changed, &livekit.SpeakerInfo{Sid: sid, Level: 0, Active: false})
		}
	}
	r.activity.speaking = now
	if len(changed) == 0 {
		return
	}
	sort.Slice(changed, func(i, j int) bool { return changed[i].Level > changed[j].Level })
	r.span.forwardSpeakers(changed)
	for _, p := range ps {
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_SpeakersChanged{
			SpeakersChanged: &livekit.SpeakersChanged{Speakers: changed},
		}})
	}
}

// updateQuality sends connection_quality for every participant: publishers are judged by
// upstream loss, subscribers by what their receiver reports say (loss, jitter, RTT).
func (r *room) updateQuality() {
	ps := r.snapshot()
	updates := make([]*livekit.ConnectionQualityInfo, 0, len(ps))
	seen := make(map[string]bool, len(ps))
	for _, p := range ps {
		seen[p.sid] = true
		var cur qualitySample
		for _, t := range p.publishedTracks() {
			st := t.recv.Stats()
			cur.inPackets += st.Packets
			cur.inLost += st.Lost
		}
		prev := r.activity.samples[p.sid]
		r.activity.samples[p.sid] = cur
		upLoss := 0.0
		if d := cur.inPackets - prev.inPackets + cur.inLost - prev.inLost; d > 0 && cur.inLost >= prev.inLost {
			upLoss = float64(cur.inLost-prev.inLost) / float64(d)
		}
		downLoss, rtt, jitterMs := p.downstreamHealth()
		score := qualityScore(math.Max(upLoss, downLoss), rtt, jitterMs)
		updates = append(updates, &livekit.ConnectionQualityInfo{ParticipantSid: p.sid, Quality: qualityOf(score), Score: float32(score)})
	}
	for sid := range r.activity.samples {
		if !seen[sid] {
			delete(r.activity.samples, sid)
		}
	}
	for _, p := range ps {
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_ConnectionQuality{
			ConnectionQuality: &livekit.ConnectionQualityUpdate{Updates: updates},
		}})
	}
}

// downstreamHealth is the worst loss, RTT and jitter the subscriber reported for any track.
func (p *participant) downstreamHealth() (loss float64, rtt time.Duration, jitterMs float64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, sub := range p.subs {
		if sub.dt == nil {
			continue
		}
		st := sub.dt.Stats()
		loss = math.Max(loss, st.FractionLost)
		rtt = max(rtt, st.RTT)
		clock := float64(sub.track.recv.Codec().ClockRate)
		if clock > 0 {
			jitterMs = math.Max(jitterMs, float64(st.Jitter)*1000/clock)
		}
	}
	return loss, rtt, jitterMs
}

// qualityScore is a MOS-like 1..5 score, in the spirit of the E-model (ITU-T G.107)
// simplified: loss dominates, then RTT and jitter as added delay.
func qualityScore(loss float64, rtt time.Duration, jitterMs float64) float64 {
	delayMs := float64(rtt.Milliseconds())/2 + 2*jitterMs
	rf := 93.2 - 2.5*loss*100 // each 1% of loss costs 2.5 R points
	if delayMs > 150 {
		rf -= (delayMs - 150) / 10
	}
	rf = math.Max(0, math.Min(100, rf))
	mos := 1 + 0.035*rf + 7e-6*rf*(rf-60)*(100-rf)
	return math.Max(1, math.Min(5, mos))
}

func qualityOf(score float64) livekit.ConnectionQuality {
	switch {
	case score >= 4.0:
		return livekit.ConnectionQuality_EXCELLENT
	case score >= 3.0:
		return livekit.ConnectionQuality_GOOD
	default:
		return livekit.ConnectionQuality_POOR
	}
}
