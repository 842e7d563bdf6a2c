package media

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/atrium-live/atrium/sfu/internal/forwarder"
)

// AllocatorParams configures an Allocator. Zero values take the defaults.
type AllocatorParams struct {
	SubscriberID string
	Logger       *slog.Logger
	// Headroom is the fraction of the estimate spent on video (default 0.9):
	// audio, RTCP and retransmissions need the rest.
	Headroom float64
	// Drop is the fall of the estimate, relative to its peak over the last
	// two seconds, that counts as congestion (default 0.15): the Estimator (like
	// GCC) cuts its target to 0.85 x the delivered rate on overuse and lowers
	// it on loss.
	Drop float64
	// Hold is how long after congestion before one layer is tried back up,
	// and between such probes (default 4 s); it doubles, up to MaxHold
	// (default 60 s), each time a probe is followed by congestion within one
	// hold, so a path that cannot carry a layer is not probed over and over.
	Hold, MaxHold time.Duration
}

// defaultLayerRate is the bitrate (bit/s) assumed for a simulcast layer not
// yet measured: typical 180p, 360p and 720p simulcast streams.
func defaultLayerRate(layer int) int {
	switch layer {
	case 0:
		return 150_000
	case 1:
		return 500_000
	}
	return 1_500_000
}

// Allocator chooses, for one subscriber, each video DownTrack's simulcast
// layer within the bandwidth estimated for the subscriber PC.
//
// Why not simply "the highest layers that fit the estimate": the Estimator
// (like GCC) caps its estimate at 1.5 x what is actually received, so an SFU that only sends
// what fits the estimate never learns that more would fit (it has no padding
// probes). The Allocator is therefore optimistic: every track gets the layer
// its subscriber asked for (SetMaxLayer) until the estimate falls
// (congestion); then layers are lowered, lowest-value first, until the video
// fits the new estimate; after a hold, one track is raised one layer at a
// time (a probe), backing off exponentially if congestion returns.
//
// Safe for concurrent use; never calls into a DownTrack while holding its own
// lock.
type Allocator struct {
	p   AllocatorParams
	log *slog.Logger
	now func() time.Time // tests replace it

	mu        sync.Mutex
	tracks    []*DownTrack
	chosen    map[*DownTrack]int
	estimate  int // bit/s, 0 unknown
	estAt     time.Time
	peak      int // highest estimate in the current window
	peakAt    time.Time
	remb      int
	congested bool      // layers are limited by a congestion event
	lastCong  time.Time // last congestion event
	nextProbe time.Time // when the next layer may be raised while congested
	lastProbe time.Time
	hold      time.Duration
}

// NewAllocator returns an Allocator with no tracks.
func NewAllocator(p AllocatorParams) *Allocator {
	if p.Headroom <= 0 || p.Headroom > 1 {
		p.Headroom = 0.9
	}
	if p.Drop <= 0 || p.Drop >= 1 {
		p.Drop = 0.15
	}
	if p.Hold <= 0 {
		p.Hold = 4 * time.Second
	}
	if p.MaxHold < p.Hold {
		p.MaxHold = 60 * time.Second
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Allocator{
		p: p, log: log.With("subscriber", p.SubscriberID), now: time.Now,
		chosen: map[*DownTrack]int{}, hold: p.Hold,
	}
}

// Add puts a video DownTrack under the Allocator's control (audio is never
// limited and is ignored).
func (a *Allocator) Add(dt *DownTrack) {
	if dt.r.kind != forwarder.Video {
		return
	}
	a.mu.Lock()
	if !slices.Contains(a.tracks, dt) {
		a.tracks = append(a.tracks, dt)
	}
	a.mu.Unlock()
	dt.mu.Lock()
	dt.alloc = a
	dt.mu.Unlock()
	a.reallocate()
}

// Remove releases dt.
func (a *Allocator) Remove(dt *DownTrack) {
	a.mu.Lock()
	a.tracks = slices.DeleteFunc(a.tracks, func(x *DownTrack) bool { return x == dt })
	delete(a.chosen, dt)
	a.mu.Unlock()
	dt.mu.Lock()
	if dt.alloc == a {
		dt.alloc = nil
	}
	dt.mu.Unlock()
	a.reallocate()
}

// SetEstimate sets the subscriber's available send bandwidth in bit/s and
// re-allocates. Wire the subscriber PC's Estimator to it:
// est.OnTargetBitrateChange(alloc.SetEstimate).
func (a *Allocator) SetEstimate(bitsPerSecond int) {
	a.mu.Lock()
	a.setEstimateLocked(bitsPerSecond)
	a.mu.Unlock()
	a.reallocate()
}

func (a *Allocator) setEstimateLocked(bps int) {
	now := a.now()
	a.estimate, a.estAt = bps, now
	if bps >= a.peak || now.Sub(a.peakAt) > 2*time.Second {
		a.peak, a.peakAt = bps, now
	}
}

// SetREMB records a receiver-estimated maximum bitrate (RFC draft
// alvestrand-rmcat-remb); it is used only when no TWCC-based estimate came
// in the last 5 seconds.
func (a *Allocator) SetREMB(bitsPerSecond int) {
	a.mu.Lock()
	a.remb = bitsPerSecond
	use := a.estAt.IsZero() || a.now().Sub(a.estAt) > 5*time.Second
	if use {
		a.setEstimateLocked(bitsPerSecond)
		a.estAt = time.Time{} // still "no TWCC estimate"
	}
	a.mu.Unlock()
	if use {
		a.reallocate()
	}
}

// Layers returns the current choice per DownTrack (for tests and debugging).
func (a *Allocator) Layers() map[*DownTrack]int {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make(map[*DownTrack]int, len(a.chosen))
	for k, v := range a.chosen {
		out[k] = v
	}
	return out
}

// Congested reports whether layers are currently limited by congestion.
func (a *Allocator) Congested() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.congested
}

// reallocate recomputes every track's layer and applies it.
func (a *Allocator) reallocate() {
	a.mu.Lock()
	tracks := slices.Clone(a.tracks)
	demands := make([]demand, len(tracks))
	for i, dt := range tracks {
		demands[i] = a.demandOf(dt)
	}
	out := a.decide(demands)
	for i, dt := range tracks {
		a.chosen[dt] = out[i]
	}
	a.mu.Unlock()
	for i, dt := range tracks {
		if out[i] >= 0 { // a disabled track keeps its layer for when it resumes
			dt.setAllocated(out[i])
		}
	}
}

func (a *Allocator) demandOf(dt *DownTrack) demand {
	dt.mu.Lock()
	d := demand{max: dt.maxLayer, enabled: dt.fwd.Enabled(), current: -1}
	dt.mu.Unlock()
	if c, ok := a.chosen[dt]; ok {
		d.current = c
	}
	if rates, ok := dt.r.spatialRates(); ok {
		d.rates = rates
		return d
	}
	prev := 0
	for l := range MaxLayers {
		active, rate := dt.r.layerInfo(l)
		switch {
		case !active && l > 0:
			rate = prev // not sent: costs nothing, the DownTrack clamps to what is sent
		case rate <= 0:
			rate = defaultLayerRate(l)
		}
		d.rates[l] = rate
		prev = rate
	}
	return d
}

// decide runs the congestion state machine; a.mu is held.
func (a *Allocator) decide(ds []demand) []int {
	now := a.now()
	budget := int(float64(a.estimate) * a.p.Headroom)
	sending := 0
	for _, d := range ds {
		if d.enabled && d.current >= 0 {
			sending += d.rates[min(d.current, d.max)]
		}
	}
	fell := a.estimate > 0 && float64(a.estimate) < float64(a.peak)*(1-a.p.Drop)
	if fell && budget < sending {
		if !a.lastProbe.IsZero() && now.Sub(a.lastProbe) < a.hold {
			a.hold = min(2*a.hold, a.p.MaxHold) // the last probe caused it
		}
		a.congested = true
		a.lastCong = now
		a.nextProbe = now.Add(a.hold)
		a.peak, a.peakAt = a.estimate, now // a new window: further falls are new events
		out := fit(budget, ds)
		a.log.Debug("congestion: lowering layers", "estimate", a.estimate, "sending", sending, "layers", out, "hold", a.hold)
		return out
	}
	if !a.congested {
		return wanted(ds)
	}
	out := keep(ds)
	if !now.Before(a.nextProbe) {
		var raised bool
		out, raised = raiseOne(ds, out)
		a.nextProbe = now.Add(a.hold)
		if !raised {
			a.congested = false
			a.hold = a.p.Hold
			a.lastProbe = time.Time{}
			return wanted(ds)
		}
		a.lastProbe = now
		a.log.Debug("probing one layer up", "estimate", a.estimate, "layers", out)
	}
	return out
}

// demand is one track's input to the pure allocation helpers.
type demand struct {
	enabled bool
	max     int            // highest layer the subscriber accepts
	current int            // layer chosen last time, -1 none
	rates   [MaxLayers]int // bit/s of each layer
}

// wanted gives every enabled track the layer its subscriber asked for.
// Disabled tracks get -1.
func wanted(ds []demand) []int {
	out := make([]int, len(ds))
	for i, d := range ds {
		out[i] = -1
		if d.enabled {
			out[i] = d.max
		}
	}
	return out
}

// keep holds every track at its current layer (capped by its max); new
// tracks start at layer 0.
func keep(ds []demand) []int {
	out := make([]int, len(ds))
	for i, d := range ds {
		switch {
		case !d.enabled:
			out[i] = -1
		case d.current < 0:
			out[i] = 0
		default:
			out[i] = min(d.current, d.max)
		}
	}
	return out
}

// fit lowers layers until the total fits budget: every enabled track keeps at
// least layer 0 (a subscriber always sees something), then tracks are raised
// one layer at a time, round-robin, up to min(current, max), while the
// remaining budget covers the step.
func fit(budget int, ds []demand) []int {
	out := make([]int, len(ds))
	remaining := budget
	for i, d := range ds {
		if !d.enabled {
			out[i] = -1
			continue
		}
		remaining -= d.rates[0]
	}
	for l := 1; l < MaxLayers; l++ {
		for i, d := range ds {
			ceiling := d.max
			if d.current >= 0 {
				ceiling = min(ceiling, d.current)
			}
			if out[i] != l-1 || ceiling < l {
				continue
			}
			if cost := d.rates[l] - d.rates[l-1]; remaining >= cost {
				out[i] = l
				remaining -= cost
			}
		}
	}
	return out
}

// raiseOne raises, by one layer, the enabled track below its max whose next
// layer costs least; raised is false when every track is at its max.
func raiseOne(ds []demand, cur []int) (out []int, raised bool) {
	out = slices.Clone(cur)
	best, bestCost := -1, 0
	for i, d := range ds {
		if !d.enabled || out[i] < 0 || out[i] >= d.max {
			continue
		}
		cost := d.rates[out[i]+1] - d.rates[out[i]]
		if best < 0 || cost < bestCost {
			best, bestCost = i, cost
		}
	}
	if best < 0 {
		return out, false
	}
	out[best]++
	return out, true
}
