package media

import "math"

// bweParams tunes bweState; zero values take the defaults below.
type bweParams struct {
	initial, min, max int // bit/s
}

// Estimator tuning. Times are µs on the subscriber's clock (TWCC arrival
// times), so the estimator needs no clock of its own and is deterministic
// under test.
const (
	bweWindow        = 500_000 // delivered rate and loss are measured over windows of this length
	bweRateWindows   = 4       // the increase cap looks at the best of the last 4 windows (2 s)
	bweTrendSamples  = 20      // per-feedback queueing delay samples in the trend
	bweQueueOveruse  = 25_000  // a queue above this that keeps growing is overuse
	bweQueueHeavy    = 150_000 // a queue above this that is not draining is overuse
	bweSlopeOveruse  = 0.01    // queue growth (µs per µs) that counts as growing
	bweBasePeriod    = 10_000_000
	bweDecreaseHold  = 300_000 // between two decreases (about one feedback round trip)
	bweIncreaseHold  = 500_000 // no increase this soon after a decrease
	bweIncreasePerS  = 0.08    // multiplicative increase per second (as GCC's near max)
	bweBackoff       = 0.85    // overuse: the estimate becomes this fraction of the delivered rate
	bweLossHigh      = 0.10    // loss above this lowers the estimate (as GCC's loss-based part)
	bweLossLow       = 0.02    // loss above this holds the estimate
	bweReportChange  = 0.05    // the estimate is reported when it moved by this fraction
	bweMinWindowPkts = 10      // loss is judged on windows with at least this many packets
)

// bweSample is one acknowledged or lost packet, send time unwrapped.
type bweSample struct {
	received bool
	size     int
	send     int64 // µs, our clock (from abs-send-time), arbitrary origin
	arrival  int64 // µs, the subscriber's clock, arbitrary origin
}

// bweState is the pure part of the send-side bandwidth estimator: it turns
// transport-cc feedback into an estimate of what the path to one subscriber
// carries. It is a deliberately small cousin of GCC
// (draft-ietf-rmcat-gcc-02): a delay-based detector (one-way queueing delay
// above its minimum, and its trend by least squares, §5.3 in spirit), a
// loss-based controller (§6: >10% loss lowers, <2% allows growth) and
// multiplicative increase capped at 1.5x the delivered rate (as pion's gcc),
// since the SFU never probes. Not safe for concurrent use.
type bweState struct {
	p bweParams

	estimate int
	started  bool
	lastAt   int64 // arrival time of the last feedback's newest packet

	// delivered rate and loss over the current window
	winStart, winEnd int64
	winBytes         int
	winReported      int
	winLost          int
	rates            [bweRateWindows]int // delivered bit/s of the last windows, newest first
	loss             float64             // of the last window with enough packets

	// queueing delay
	baseCur, basePrev int64 // minimum one-way delay in the current and previous period
	baseStart         int64
	trend             [bweTrendSamples][2]float64 // (t, queue) samples, a ring
	trendN, trendNext int
	queue             int64 // mean queueing delay in the last feedback

	lastDecrease int64
	overusing    bool
}

func newBWEState(p bweParams) *bweState {
	if p.initial <= 0 {
		p.initial = estimateInitial
	}
	if p.min <= 0 {
		p.min = estimateMin
	}
	if p.max <= 0 {
		p.max = estimateMax
	}
	return &bweState{p: p, estimate: p.initial}
}

// update folds one feedback packet's samples (in sequence order) into the
// estimate and returns it.
func (s *bweState) update(samples []bweSample) int {
	var qSum, qN int64
	var now int64
	have := false
	for _, x := range samples {
		s.winReported++
		if !x.received {
			s.winLost++
			continue
		}
		if !s.started {
			s.started = true
			s.winStart, s.baseStart = x.arrival, x.arrival
			s.baseCur, s.basePrev = math.MaxInt64, math.MaxInt64
			s.lastAt = x.arrival
		}
		if d := x.arrival - s.lastAt; d > 3600e6 || d < -3600e6 {
			// The subscriber's clock (its reference time) jumped: start over.
			*s = bweState{p: s.p, estimate: s.estimate}
			return s.update(samples)
		}
		s.winBytes += x.size
		if x.arrival > s.winEnd {
			s.winEnd = x.arrival
		}
		d := x.arrival - x.send
		if x.arrival-s.baseStart >= bweBasePeriod {
			s.basePrev, s.baseCur, s.baseStart = s.baseCur, math.MaxInt64, x.arrival
		}
		s.baseCur = min(s.baseCur, d)
		qSum += d - min(s.baseCur, s.basePrev)
		qN++
		if !have || x.arrival > now {
			now, have = x.arrival, true
		}
	}
	if !have {
		return s.estimate
	}
	s.queue = qSum / qN
	s.trend[s.trendNext] = [2]float64{float64(now), float64(s.queue)}
	s.trendNext = (s.trendNext + 1) % bweTrendSamples
	s.trendN = min(s.trendN+1, bweTrendSamples)

	windowClosed := false
	if span := s.winEnd - s.winStart; span >= bweWindow {
		copy(s.rates[1:], s.rates[:bweRateWindows-1])
		s.rates[0] = int(int64(s.winBytes) * 8 * 1e6 / span)
		if s.winReported >= bweMinWindowPkts {
			s.loss = float64(s.winLost) / float64(s.winReported)
		}
		s.winStart, s.winBytes, s.winReported, s.winLost = s.winEnd, 0, 0, 0
		windowClosed = true
	}

	slope := s.slope()
	s.overusing = (s.queue > bweQueueOveruse && slope > bweSlopeOveruse) || (s.queue > bweQueueHeavy && slope >= 0)
	delivered, best := s.rates[0], s.bestRate()
	dt := now - s.lastAt
	s.lastAt = max(s.lastAt, now)
	switch {
	case s.overusing && delivered > 0 && now-s.lastDecrease >= bweDecreaseHold:
		s.estimate = min(s.estimate, int(bweBackoff*float64(delivered)))
		s.lastDecrease = now
	case windowClosed && s.loss > bweLossHigh && delivered > 0:
		s.estimate = int(float64(min(s.estimate, delivered)) * (1 - 0.5*s.loss))
		s.lastDecrease = now
	case !s.overusing && s.loss <= bweLossLow && now-s.lastDecrease >= bweIncreaseHold && dt > 0:
		// Grow, but not beyond 1.5x what recently got through (the SFU
		// sends no probes, so more than that is a guess); the cap never
		// lowers the estimate itself: sending less is not congestion.
		e := int(float64(s.estimate) * (1 + bweIncreasePerS*float64(dt)/1e6))
		if best > 0 {
			e = min(e, max(s.estimate, best*3/2))
		}
		s.estimate = max(e, delivered) // what was delivered evidently fits
	}
	s.estimate = min(max(s.estimate, s.p.min), s.p.max)
	return s.estimate
}

// bestRate is the highest delivered rate of the recent windows.
func (s *bweState) bestRate() int {
	best := 0
	for _, r := range s.rates {
		best = max(best, r)
	}
	return best
}

// slope is the least-squares slope of queueing delay over time in the recent
// feedback (µs of queue per µs): positive while a queue builds.
func (s *bweState) slope() float64 {
	n := s.trendN
	if n < 3 {
		return 0
	}
	var mt, mq float64
	for i := range n {
		mt += s.trend[i][0]
		mq += s.trend[i][1]
	}
	mt /= float64(n)
	mq /= float64(n)
	var num, den float64
	for i := range n {
		dt := s.trend[i][0] - mt
		num += dt * (s.trend[i][1] - mq)
		den += dt * dt
	}
	if den == 0 {
		return 0
	}
	return num / den
}
