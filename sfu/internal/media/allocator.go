package media

import (
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/atrium-live/atrium/sfu/internal/forwarder"
)

// AllocatorParams configures an Allocator.
type AllocatorParams struct {
	SubscriberID string
	Logger       *slog.Logger
	// Headroom is the fraction of the estimate spent on video (default 0.9):
	// audio, RTCP and retransmissions need the rest.
	Headroom float64
	// UpgradeFactor: a layer above the current one is taken only if the spare
	// budget covers its extra cost times this factor (default 1.2), so a
	// noisy estimate does not flip layers back and forth.
	UpgradeFactor float64
	// HoldAfterDown: no upgrade for this long after a downgrade (default 4 s).
	HoldAfterDown time.Duration
}

// Default bitrates assumed for simulcast layers not yet measured (bit/s).
var defaultLayerRates = [MaxLayers]int{150_000, 500_000, 1_500_000} //nolint:gochecknoglobals // read-only table

// Allocator chooses, for one subscriber, each video DownTrack's simulcast
// layer within the bandwidth estimated for the subscriber PC: every enabled
// track gets its lowest layer, then tracks are raised one layer at a time,
// round-robin, while the budget allows and their SetMaxLayer cap permits.
// Before any estimate arrives there is no limit. Safe for concurrent use.
type Allocator struct {
	p   AllocatorParams
	log *slog.Logger

	mu       sync.Mutex
	tracks   []*DownTrack
	estimate int // bit/s from the TWCC estimator, 0 unknown
	estAt    time.Time
	remb     int
	lastDown time.Time
	chosen   map[*DownTrack]int
}

// NewAllocator returns an Allocator with no tracks.
func NewAllocator(p AllocatorParams) *Allocator {
	if p.Headroom <= 0 || p.Headroom > 1 {
		p.Headroom = 0.9
	}
	if p.UpgradeFactor < 1 {
		p.UpgradeFactor = 1.2
	}
	if p.HoldAfterDown <= 0 {
		p.HoldAfterDown = 4 * time.Second
	}
	log := p.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Allocator{p: p, log: log.With("subscriber", p.SubscriberID), chosen: map[*DownTrack]int{}}
}

// Add puts a DownTrack under the Allocator's control. Audio tracks are
// ignored (never limited).
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

// SetEstimate sets the subscriber's available send bandwidth in bit/s (from
// pion's gcc estimator: wire cc.BandwidthEstimator.OnTargetBitrateChange to
// it) and re-allocates.
func (a *Allocator) SetEstimate(bitsPerSecond int) {
	a.mu.Lock()
	a.estimate = bitsPerSecond
	a.estAt = time.Now()
	a.mu.Unlock()
	a.reallocate()
}

// SetREMB records a receiver-estimated maximum bitrate; it is used only when
// no TWCC-based estimate arrived in the last 5 seconds.
func (a *Allocator) SetREMB(bitsPerSecond int) {
	a.mu.Lock()
	a.remb = bitsPerSecond
	useREMB := a.estAt.IsZero() || time.Since(a.estAt) > 5*time.Second
	a.mu.Unlock()
	if useREMB {
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

// reallocate recomputes every track's layer and applies it.
func (a *Allocator) reallocate() {
	a.mu.Lock()
	budget := a.estimate
	if a.estAt.IsZero() || time.Since(a.estAt) > 5*time.Second {
		if a.remb > 0 {
			budget = a.remb
		}
	}
	tracks := slices.Clone(a.tracks)
	demands := make([]demand, len(tracks))
	for i, dt := range tracks {
		dt.mu.Lock()
		d := demand{max: dt.maxLayer, enabled: dt.fwd.Enabled(), current: -1}
		dt.mu.Unlock()
		if c, ok := a.chosen[dt]; ok {
			d.current = c
		}
		prev := 0
		for l := range MaxLayers {
			active, rate := dt.r.layerInfo(l)
			switch {
			case !active && l > 0:
				rate = prev // not sent: costs nothing, the DownTrack clamps to what is sent
			case rate <= 0:
				rate = defaultLayerRates[l]
			}
			d.rates[l] = rate
			prev = rate
		}
		demands[i] = d
	}
	allowUp := a.lastDown.IsZero() || time.Since(a.lastDown) >= a.p.HoldAfterDown
	var out []int
	if budget <= 0 {
		out = make([]int, len(demands))
		for i, d := range demands {
			out[i] = d.max
		}
	} else {
		out = allocate(int(float64(budget)*a.p.Headroom), demands, allocateParams{
			upgradeFactor: a.p.UpgradeFactor, allowUp: allowUp,
		})
	}
	for i, dt := range tracks {
		if demands[i].current >= 0 && out[i] < demands[i].current {
			a.lastDown = time.Now()
		}
		a.chosen[dt] = out[i]
	}
	a.mu.Unlock()
	for i, dt := range tracks {
		dt.setAllocated(max(out[i], 0))
	}
}

// demand is one track's input to allocate.
type demand struct {
	enabled bool
	max     int            // highest layer the subscriber accepts
	current int            // layer chosen last time, -1 none
	rates   [MaxLayers]int // bit/s of each layer
}

type allocateParams struct {
	upgradeFactor float64
	allowUp       bool // false during the hold after a downgrade
}

// allocate is the pure allocation: every enabled track gets layer 0 (a
// subscriber always sees something), then, for layers 1..2 in turn, each
// track may rise one layer if the remaining budget covers the extra cost;
// rising above the previous choice needs the cost times upgradeFactor and is
// not allowed during a hold. Disabled tracks get -1.
func allocate(budget int, ds []demand, p allocateParams) []int {
	out := make([]int, len(ds))
	remaining := budget
	for i, d := range ds {
		if !d.enabled {
			out[i] = -1
			continue
		}
		out[i] = 0
		remaining -= d.rates[0]
	}
	for l := 1; l < MaxLayers; l++ {
		for i, d := range ds {
			if out[i] != l-1 || d.max < l {
				continue
			}
			cost := d.rates[l] - d.rates[l-1]
			need := float64(cost)
			if l > d.current {
				if !p.allowUp {
					continue
				}
				need *= p.upgradeFactor
			}
			if float64(remaining) >= need {
				out[i] = l
				remaining -= cost
			}
		}
	}
	return out
}
