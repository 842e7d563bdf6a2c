// Package audiolevel turns the client-to-mixer audio level header extension
// (RFC 6464) into a smoothed loudness for active-speaker detection.
package audiolevel

import (
	"math"
	"sync/atomic"
)

// URI of the header extension, RFC 6464 §4.
const URI = "urn:ietf:params:rtp-hdrext:ssrc-audio-level"

// Parse reads the one-byte extension payload: V (voice activity) in the top
// bit and the level in -dBov (0 loudest, 127 silence) in the low 7 bits
// (RFC 6464 §3).
func Parse(ext []byte) (dBov uint8, voice bool, ok bool) {
	if len(ext) < 1 {
		return 0, false, false
	}
	return ext[0] & 0x7f, ext[0]&0x80 != 0, true
}

// Params configures a Meter.
type Params struct {
	// ActiveDBov is the loudest level (in -dBov) still counted as silence:
	// levels numerically below it are speech. Default 40.
	ActiveDBov uint8
	// Window is the smoothing time constant in ns. Default 500 ms.
	Window int64
	// Stale is how long after the last observation the level decays to zero,
	// in ns. Default 1 s.
	Stale int64
}

// Meter smooths levels of one audio stream. Observe is called from the packet
// path; Level from anywhere. Safe for concurrent use, allocation-free.
type Meter struct {
	p Params
	// Observe is called from one goroutine; the smoothed state is published
	// through atomics so readers never block the packet path.
	level  float64
	last   int64
	shared atomic.Uint64 // math.Float64bits of the smoothed level
	lastAt atomic.Int64
}

// New returns a Meter.
func New(p Params) *Meter {
	if p.ActiveDBov == 0 {
		p.ActiveDBov = 40
	}
	if p.Window <= 0 {
		p.Window = 500e6
	}
	if p.Stale <= 0 {
		p.Stale = 1e9
	}
	return &Meter{p: p}
}

// linear maps -dBov to 0..1 amplitude (0 dBov -> 1, 127 -> ~0).
func linear(dBov uint8) float64 { return math.Pow(10, -float64(dBov)/20) }

// Observe records one packet's level at time now (ns). Must not be called
// concurrently with itself.
func (m *Meter) Observe(dBov uint8, now int64) {
	x := linear(dBov)
	if m.last == 0 {
		m.level = x
	} else {
		dt := now - m.last
		if dt < 0 {
			dt = 0
		}
		alpha := float64(dt) / float64(m.p.Window)
		if alpha > 1 {
			alpha = 1
		}
		m.level += alpha * (x - m.level)
	}
	m.last = now
	m.shared.Store(math.Float64bits(m.level))
	m.lastAt.Store(now)
}

// Level returns the smoothed amplitude (0..1) at time now and whether it is
// above the activity threshold. A stream that stopped sending is silent.
func (m *Meter) Level(now int64) (level float64, active bool) {
	last := m.lastAt.Load()
	if last == 0 || now-last > m.p.Stale {
		return 0, false
	}
	level = math.Float64frombits(m.shared.Load())
	return level, level >= linear(m.p.ActiveDBov)
}
