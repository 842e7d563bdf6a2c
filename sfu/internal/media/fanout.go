package media

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
)

// FanoutParams tunes how a Receiver spreads each packet over its
// subscribers. Zero values take the defaults.
//
// Small rooms are served inline: the goroutine that read the packet writes it
// to every DownTrack, which costs no handoff. From ParallelMin subscribers
// on, the DownTracks of a layer are split into Workers+1 fixed shares: the
// reading goroutine copies the packet once into a ring and serves share 0,
// and one worker goroutine per other share serves the rest, so the last
// subscriber of a large room does not wait for all the others' writes and
// several cores can forward one track. A DownTrack keeps its share for life,
// so its packets stay in order.
type FanoutParams struct {
	// Workers is the number of extra goroutines per simulcast layer
	// (default GOMAXPROCS-1, at most 3; negative: none, always inline).
	Workers int
	// ParallelMin is the subscriber count from which a layer's writes are
	// shared (default 24; back to inline below half of it).
	ParallelMin int
}

// Defaults for FanoutParams.
const (
	fanoutMaxWorkers  = 3
	fanoutParallelMin = 24
	// fanRingSize is the number of packets a layer's workers may lag behind
	// its reader (a keyframe burst); beyond it the reader waits.
	fanRingSize = 64
	// fanWaitMax bounds how long a reader waits for a stuck worker before
	// it writes the packet to every subscriber itself.
	fanWaitMax = 200 * time.Millisecond
)

func (p FanoutParams) withDefaults() FanoutParams {
	if p.Workers == 0 {
		p.Workers = min(runtime.GOMAXPROCS(0)-1, fanoutMaxWorkers)
	}
	if p.Workers < 0 {
		p.Workers = 0
	}
	if p.ParallelMin <= 0 {
		p.ParallelMin = fanoutParallelMin
	}
	return p
}

// fanSet is an immutable snapshot of a Receiver's DownTracks, replaced
// (copy-on-write, under Receiver.mu) on every change.
type fanSet struct {
	all    []*DownTrack
	shares [][]*DownTrack // len workers+1; share 0 is served by the reading goroutine
}

// newFanSet groups dts by their share.
func newFanSet(dts []*DownTrack, shares int) *fanSet {
	s := &fanSet{all: dts, shares: make([][]*DownTrack, shares)}
	for _, dt := range dts {
		s.shares[dt.share] = append(s.shares[dt.share], dt)
	}
	return s
}

// smallestShare is the share a new DownTrack joins.
func (s *fanSet) smallestShare() int {
	best := 0
	for i := range s.shares {
		if len(s.shares[i]) < len(s.shares[best]) {
			best = i
		}
	}
	return best
}

// fanEntry is one packet handed to a layer's workers: a private copy, so it
// stays valid however far the buffer and the reader have moved on.
type fanEntry struct {
	pkt  packet
	hdr  rtp.Header
	data [maxPacket]byte
	set  *fanSet
}

// fanRing carries one layer's packets from its reading goroutine (the only
// producer) to its workers (each consumes every entry, serving its share).
// Producer and workers synchronise through the produced/consumed counters
// only; a sleeping side is woken through a one-slot channel, with the
// Dekker-style flag check that makes a lost wake-up impossible.
type fanRing struct {
	entries  [fanRingSize]fanEntry
	produced atomic.Uint64
	workers  []*fanWorker
	waiting  atomic.Bool // the producer waits for space
	space    chan struct{}
	quit     chan struct{}
	wg       sync.WaitGroup
	timer    *time.Timer // the producer's, reused
	stopOnce sync.Once
}

type fanWorker struct {
	share    int
	consumed atomic.Uint64
	sleeping atomic.Bool
	wake     chan struct{}
	out      scratch
}

func newFanRing(r *Receiver, workers int) *fanRing {
	g := &fanRing{space: make(chan struct{}, 1), quit: make(chan struct{}), timer: time.NewTimer(time.Hour)}
	g.timer.Stop()
	for i := range g.entries {
		g.entries[i].hdr.Extensions = make([]rtp.Extension, 0, 16)
	}
	for i := range workers {
		w := &fanWorker{share: i + 1, wake: make(chan struct{}, 1), out: newScratch()}
		g.workers = append(g.workers, w)
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			g.run(r, w)
		}()
	}
	return g
}

// run is a worker's loop: serve its share of every entry, sleep when idle.
func (g *fanRing) run(r *Receiver, w *fanWorker) {
	for {
		c := w.consumed.Load()
		if c < g.produced.Load() {
			e := &g.entries[c%fanRingSize]
			if w.share < len(e.set.shares) {
				if b := r.p.Batch; b != nil {
					b.Begin()
				}
				for _, dt := range e.set.shares[w.share] {
					dt.writeRTP(&w.out, &e.pkt)
				}
				r.flushOut(&w.out)
				if b := r.p.Batch; b != nil {
					b.End()
				}
			}
			if m := r.p.Metrics; m != nil {
				m.ForwardDelay.Observe(float64(r.now()-e.pkt.arrival) / 1e9)
			}
			w.consumed.Store(c + 1)
			if g.waiting.Load() {
				select {
				case g.space <- struct{}{}:
				default:
				}
			}
			continue
		}
		w.sleeping.Store(true)
		if c < g.produced.Load() {
			w.sleeping.Store(false)
			continue
		}
		select {
		case <-w.wake:
		case <-g.quit:
			return
		}
		w.sleeping.Store(false)
	}
}

// waitConsumed waits until every worker has consumed at least target
// entries; false if the ring was stopped or fanWaitMax passed.
func (g *fanRing) waitConsumed(target uint64) bool {
	deadline := time.Time{}
	for {
		done := true
		for _, w := range g.workers {
			if w.consumed.Load() < target {
				done = false
				break
			}
		}
		if done {
			g.waiting.Store(false)
			return true
		}
		if !g.waiting.Load() {
			g.waiting.Store(true)
			continue // re-check after announcing, so a wake-up cannot be missed
		}
		now := time.Now()
		if deadline.IsZero() {
			deadline = now.Add(fanWaitMax)
		} else if !now.Before(deadline) {
			g.waiting.Store(false)
			return false
		}
		g.timer.Reset(deadline.Sub(now))
		select {
		case <-g.space:
		case <-g.timer.C:
		case <-g.quit:
			g.timer.Stop()
			g.waiting.Store(false)
			return false
		}
		g.timer.Stop()
	}
}

// publish hands the packet p (raw is the whole packet as stored; p's header
// and payload alias memory the reader reuses) to the workers; false if they are stuck
// or stopped, in which case nothing was handed over.
func (g *fanRing) publish(set *fanSet, p *packet, raw []byte) bool {
	select {
	case <-g.quit:
		return false
	default:
	}
	n := g.produced.Load()
	if n >= fanRingSize && !g.waitConsumed(n-fanRingSize+1) {
		return false
	}
	e := &g.entries[n%fanRingSize]
	k := copy(e.data[:], raw)
	hl, err := e.hdr.Unmarshal(e.data[:k])
	if err != nil || hl+len(p.payload) > k {
		return false
	}
	e.pkt = *p
	e.pkt.hdr = &e.hdr
	e.pkt.payload = e.data[hl : hl+len(p.payload)]
	e.set = set
	g.produced.Store(n + 1)
	for _, w := range g.workers {
		if w.sleeping.Load() {
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
	}
	return true
}

// drain waits (bounded) until the workers have served everything published.
func (g *fanRing) drain() bool { return g.waitConsumed(g.produced.Load()) }

// stop ends the workers and waits for them. Idempotent.
func (g *fanRing) stop() {
	g.stopOnce.Do(func() {
		close(g.quit)
		g.wg.Wait()
	})
}

// fanOut writes the layer's current packet (l.pkt; stored is the whole
// packet as stored in the buffer) to set's DownTracks:
// inline for small rooms, shared with the layer's workers for large ones.
// Runs on the layer's writer goroutine.
func (r *Receiver) fanOut(l *layer, set *fanSet, stored []byte) {
	workers := len(set.shares) - 1
	n := len(set.all)
	g := l.ring
	parallel := workers > 0 && (n >= r.fan.ParallelMin || (g != nil && n >= r.fan.ParallelMin/2))
	if !parallel {
		if g != nil && g.produced.Load() > 0 && !l.inline {
			// Leaving parallel mode: let the workers finish first, so no
			// DownTrack sees its packets out of order.
			g.drain()
			l.inline = true
		}
		for _, dt := range set.all {
			dt.writeRTP(&l.out, &l.pkt)
		}
		return
	}
	if g == nil {
		if l.retired.Load() {
			for _, dt := range set.all {
				dt.writeRTP(&l.out, &l.pkt)
			}
			return
		}
		g = newFanRing(r, workers)
		l.ringMu.Lock()
		l.ring = g
		l.ringMu.Unlock()
		if l.retired.Load() { // retired meanwhile: Close may have missed the ring
			g.stop()
		}
	}
	l.inline = false
	if !g.publish(set, &l.pkt, stored) {
		// Workers stuck or stopped: serve everyone from here.
		for _, dt := range set.all {
			dt.writeRTP(&l.out, &l.pkt)
		}
		return
	}
	for _, dt := range set.shares[0] {
		dt.writeRTP(&l.out, &l.pkt)
	}
}

// retire stops the layer's workers (Receiver.Close, or the layer replaced
// by a restarted stream). The layer's writer serves inline afterwards.
func (l *layer) retire() {
	l.retired.Store(true)
	l.ringMu.Lock()
	g := l.ring
	l.ringMu.Unlock()
	if g != nil {
		g.stop()
	}
}
