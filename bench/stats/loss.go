package stats

// Loss counts packets lost on one received stream exactly, from the per-stream sequence
// numbers the sender writes into every packet (see bench/synth).
//
// A stream may be interrupted and resumed on another sequence space (a simulcast layer
// switch); the caller signals it with Layer changes in Push. Each uninterrupted run counts
// expected = highest - first + 1 and received = distinct sequences seen, so packets lost
// in flight between two runs (at the switch itself) are not counted, and neither are
// packets still in flight when the run ends. Duplicates (retransmissions answering NACKs
// that arrive after the original) count once; late packets inside the last 1024 count
// as received, which is what a jitter buffer would do.
type Loss struct {
	started  bool
	layer    uint8
	first    uint32
	highest  uint32
	window   [windowWords]uint64 // bit i%windowBits set when sequence i was seen
	runRecv  uint64
	expected uint64 // closed runs
	received uint64 // closed runs
	dups     uint64
}

const (
	windowWords = 16
	windowBits  = windowWords * 64
)

// Push records one packet with sequence seq on simulcast layer layer (0 without simulcast).
func (l *Loss) Push(layer uint8, seq uint32) {
	if !l.started || layer != l.layer {
		l.closeRun()
		l.started = true
		l.layer = layer
		l.first, l.highest = seq, seq
		l.window = [windowWords]uint64{}
		l.mark(seq)
		l.runRecv = 1
		return
	}
	diff := int32(seq - l.highest)
	switch {
	case diff > 0:
		// Clear the bits of sequences skipped or wrapping into the window.
		if diff >= windowBits {
			l.window = [windowWords]uint64{}
		} else {
			for s := l.highest + 1; s != seq; s++ {
				l.clear(s)
			}
		}
		l.highest = seq
		l.mark(seq)
		l.runRecv++
	case -diff >= windowBits || int32(seq-l.first) < 0:
		// Too old to tell, or before the run started: ignore.
	default:
		if l.isMarked(seq) {
			l.dups++
			return
		}
		l.mark(seq)
		l.runRecv++
	}
}

func (l *Loss) mark(s uint32)          { l.window[(s%windowBits)/64] |= 1 << (s % 64) }
func (l *Loss) clear(s uint32)         { l.window[(s%windowBits)/64] &^= 1 << (s % 64) }
func (l *Loss) isMarked(s uint32) bool { return l.window[(s%windowBits)/64]&(1<<(s%64)) != 0 }

func (l *Loss) closeRun() {
	if !l.started {
		return
	}
	l.expected += uint64(l.highest-l.first) + 1
	l.received += l.runRecv
	l.started = false
	l.runRecv = 0
}

// Totals returns expected and distinct received packets so far, including the open run.
func (l *Loss) Totals() (expected, received uint64) {
	expected, received = l.expected, l.received
	if l.started {
		expected += uint64(l.highest-l.first) + 1
		received += l.runRecv
	}
	return expected, received
}

// Current returns the layer and highest sequence of the open run; ok is false before the
// first packet.
func (l *Loss) Current() (layer uint8, highest uint32, ok bool) {
	return l.layer, l.highest, l.started
}

// Duplicates is the number of packets received more than once.
func (l *Loss) Duplicates() uint64 { return l.dups }

// LossPercent is 100*(expected-received)/expected, 0 when nothing was expected.
func LossPercent(expected, received uint64) float64 {
	if expected == 0 || received >= expected {
		return 0
	}
	return 100 * float64(expected-received) / float64(expected)
}
