// Package buffer is the receive buffer of one incoming RTP stream (one
// simulcast layer of a published track): it assigns extended sequence numbers,
// keeps the most recent packets once for every subscriber's retransmissions,
// detects loss, duplicates and reordering, schedules NACKs upstream and keeps
// RFC 3550 receiver statistics.
//
// Concurrency: Push must be called from one goroutine at a time (the stream's
// packet source). Everything else is safe for concurrent use. The slice
// returned by Push aliases the ring and stays valid only until the next Push,
// so the pushing goroutine may fan it out without copying; other goroutines
// use Copy.
package buffer

import (
	"errors"
	"fmt"
	"sync"
)

// Errors returned by Push.
var (
	ErrTooLarge  = errors.New("buffer: packet larger than the slot size")
	ErrDuplicate = errors.New("buffer: duplicate packet")
	ErrTooOld    = errors.New("buffer: packet older than the buffer window")
)

// Params configures a Buffer.
type Params struct {
	// Size is the number of packets kept, rounded up to a power of two.
	// About one second of the stream is enough for NACKs within one RTT.
	Size int
	// MaxPacket is the largest RTP packet accepted, in bytes (default 1500).
	MaxPacket int
	// ClockRate of the stream's codec, for jitter in RTP units (RFC 3550 A.8).
	ClockRate uint32
	// NACK tuning; zero values take the defaults below.
	NackMaxTries int   // attempts per lost packet (default 5)
	NackInterval int64 // ns between attempts for one packet (default 30 ms)
	NackMaxAge   int64 // ns after which a loss is given up (default 1 s)
}

const (
	defaultMaxPacket    = 1500
	defaultNackMaxTries = 5
	defaultNackInterval = int64(30e6)
	defaultNackMaxAge   = int64(1e9)
	maxNackQueue        = 256 // losses tracked at once; beyond this the stream is too broken to repair
)

// Status classifies a pushed packet.
type Status uint8

// Push outcomes.
const (
	InOrder    Status = iota + 1 // newest so far (possibly after a gap)
	OutOfOrder                   // older than the newest, fills a gap
	// Reset: a discontinuity. Either the sequence number jumped forward by
	// more than the window, or the sender restarted its numbering (a run of
	// consecutive packets far behind the window; the packet is stored as the
	// start of a new run with an extended number beyond everything before).
	// Numbering stays monotonic; readers must resync.
	Reset
)

// resetRun is how many consecutive packets far behind the window make a
// sequence restart: more than a stray burst of ancient retransmissions.
const resetRun = 4

// Stats are cumulative receiver statistics (RFC 3550 §6.4.1, A.3, A.8).
type Stats struct {
	Packets      uint64
	Bytes        uint64
	Duplicates   uint64
	OutOfOrder   uint64
	Lost         uint64  // expected minus received, never negative
	Jitter       float64 // interarrival jitter in RTP timestamp units
	NacksSent    uint64  // sequence numbers requested (counting retries)
	NacksGivenUp uint64  // losses abandoned after NackMaxTries or NackMaxAge
	Resets       uint64  // sequence restarts detected
	HighestExt   uint64
}

type meta struct {
	ext   uint64
	n     int // bytes stored; 0 means empty
	valid bool
}

type nackEntry struct {
	ext      uint64
	firstAt  int64
	lastSent int64
	tries    int
}

// Buffer is the receive buffer of one RTP stream. Create it with New.
type Buffer struct {
	p    Params
	mask uint64

	mu    sync.Mutex
	data  []byte
	slots []meta

	started      bool
	highest      uint64
	base         uint64
	firstArrival int64
	lastTransit  int64
	haveTransit  bool

	nacks []nackEntry
	stats Stats

	oldRun int    // consecutive too-old packets, in sequence
	oldSeq uint16 // the last of them

	lostCarry     uint64 // losses counted before the last restart
	packetsAtBase uint64 // packets received before the current run
}

// New returns an empty buffer with all memory allocated up front.
func New(p Params) *Buffer {
	if p.MaxPacket <= 0 {
		p.MaxPacket = defaultMaxPacket
	}
	if p.NackMaxTries <= 0 {
		p.NackMaxTries = defaultNackMaxTries
	}
	if p.NackInterval <= 0 {
		p.NackInterval = defaultNackInterval
	}
	if p.NackMaxAge <= 0 {
		p.NackMaxAge = defaultNackMaxAge
	}
	size := 1
	for size < p.Size || size < 16 {
		size <<= 1
	}
	p.Size = size
	return &Buffer{
		p:     p,
		mask:  uint64(size - 1),
		data:  make([]byte, size*p.MaxPacket),
		slots: make([]meta, size),
		nacks: make([]nackEntry, 0, maxNackQueue),
	}
}

// Size is the number of packets the buffer holds.
func (b *Buffer) Size() int { return b.p.Size }

// Push stores raw (a whole RTP packet with sequence number seq and timestamp
// ts, arrived at arrival ns) and returns its extended sequence number, how it
// relates to the stream, and the stored copy (valid until the next Push).
// Duplicates and packets older than the window return ErrDuplicate/ErrTooOld
// and must not be forwarded.
func (b *Buffer) Push(raw []byte, seq uint16, ts uint32, arrival int64) (ext uint64, st Status, stored []byte, err error) {
	if len(raw) > b.p.MaxPacket {
		return 0, 0, nil, fmt.Errorf("%w: %d > %d", ErrTooLarge, len(raw), b.p.MaxPacket)
	}
	b.mu.Lock()
	defer b.mu.Unlock()

	if !b.started {
		b.started = true
		ext = uint64(seq) + 1<<16 // headroom so that early reordered packets stay positive
		b.highest, b.base = ext, ext
		b.firstArrival = arrival
		st = InOrder
	} else {
		diff := int64(int16(seq - uint16(b.highest)))
		ext = uint64(int64(b.highest) + diff)
		switch {
		case diff > 0:
			st = InOrder
			if ext-b.highest > uint64(b.p.Size) {
				st = Reset // a jump the window cannot bridge: a discontinuity, not loss
				b.rebase(ext)
				break
			}
			b.noteGap(ext, arrival)
			b.highest = ext
		case diff == 0:
			b.stats.Duplicates++
			return 0, 0, nil, ErrDuplicate
		default:
			if b.highest-ext >= uint64(b.p.Size) || ext < b.base {
				if b.restartSuspected(seq) {
					ext = b.restart(seq)
					st = Reset
					break
				}
				return 0, 0, nil, fmt.Errorf("%w: ext %d, highest %d", ErrTooOld, ext, b.highest)
			}
			if s := b.slots[ext&b.mask]; s.valid && s.ext == ext {
				b.stats.Duplicates++
				return 0, 0, nil, ErrDuplicate
			}
			st = OutOfOrder
			b.stats.OutOfOrder++
			b.removeNack(ext)
		}
	}

	if st != Reset {
		b.oldRun = 0
	}
	i := ext & b.mask
	off := int(i) * b.p.MaxPacket
	n := copy(b.data[off:off+b.p.MaxPacket], raw)
	b.slots[i] = meta{ext: ext, n: n, valid: true}

	b.stats.Packets++
	b.stats.Bytes += uint64(len(raw))
	b.updateJitter(ts, arrival)
	return ext, st, b.data[off : off+n], nil
}

// lostLocked is expected minus received (RFC 3550 A.3) over every run.
func (b *Buffer) lostLocked() uint64 {
	if !b.started {
		return 0
	}
	expected := b.highest - b.base + 1
	got := b.stats.Packets - b.packetsAtBase
	if expected > got {
		return b.lostCarry + expected - got
	}
	return b.lostCarry
}

// restartSuspected counts consecutive packets (in sequence) that are too old
// for the window, and reports when they look like a restarted sender.
func (b *Buffer) restartSuspected(seq uint16) bool {
	if b.oldRun > 0 && seq == b.oldSeq+1 {
		b.oldRun++
	} else {
		b.oldRun = 1
	}
	b.oldSeq = seq
	return b.oldRun >= resetRun
}

// restart starts a new run at seq: its extended number is the first one
// beyond the window above everything stored with seq as its low 16 bits, so
// nothing stored is overwritten by accident and no gap is NACKed.
func (b *Buffer) restart(seq uint16) uint64 {
	ext := (b.highest+uint64(b.p.Size))&^0xffff | uint64(seq)
	if ext <= b.highest+uint64(b.p.Size) {
		ext += 1 << 16
	}
	b.rebase(ext)
	return ext
}

// rebase starts a new run at ext: losses so far are kept in the stats,
// pending NACKs and the jitter baseline are dropped.
func (b *Buffer) rebase(ext uint64) {
	b.lostCarry = b.lostLocked()
	b.packetsAtBase = b.stats.Packets
	b.highest, b.base = ext, ext
	b.nacks = b.nacks[:0]
	b.oldRun = 0
	b.haveTransit = false
	b.stats.Resets++
}

// updateJitter implements RFC 3550 A.8 with arrival converted to RTP units.
func (b *Buffer) updateJitter(ts uint32, arrival int64) {
	if b.p.ClockRate == 0 {
		return
	}
	// Microseconds first, so that the product cannot overflow in any
	// realistic session (int64 holds 10^13 hours of µs at 90 kHz).
	arrivalRTP := (arrival - b.firstArrival) / 1e3 * int64(b.p.ClockRate) / 1e6
	transit := arrivalRTP - int64(ts)
	if b.haveTransit {
		d := transit - b.lastTransit
		// The transit difference is computed modulo 2^32 like the timestamps.
		d = int64(int32(uint32(d)))
		if d < 0 {
			d = -d
		}
		b.stats.Jitter += (float64(d) - b.stats.Jitter) / 16
	}
	b.lastTransit = transit
	b.haveTransit = true
}

// noteGap queues NACKs for the packets between the previous highest and ext.
// A gap wider than the buffer cannot be repaired from it either, so it is
// treated as a stream discontinuity and not NACKed.
func (b *Buffer) noteGap(ext uint64, arrival int64) {
	gap := ext - b.highest - 1
	if gap == 0 {
		return
	}
	if gap >= uint64(b.p.Size) {
		b.nacks = b.nacks[:0]
		return
	}
	for s := b.highest + 1; s < ext; s++ {
		if len(b.nacks) == cap(b.nacks) {
			// Drop the oldest loss: the newest are likelier to be repaired in time.
			copy(b.nacks, b.nacks[1:])
			b.nacks = b.nacks[:len(b.nacks)-1]
			b.stats.NacksGivenUp++
		}
		b.nacks = append(b.nacks, nackEntry{ext: s, firstAt: arrival})
	}
}

func (b *Buffer) removeNack(ext uint64) {
	for i := range b.nacks {
		if b.nacks[i].ext == ext {
			b.nacks = append(b.nacks[:i], b.nacks[i+1:]...)
			return
		}
	}
}

// Copy copies the packet with extended sequence number ext into dst and
// returns its length; ok is false when the packet is not (or no longer) held.
func (b *Buffer) Copy(ext uint64, dst []byte) (n int, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.slots[ext&b.mask]
	if !s.valid || s.ext != ext {
		return 0, false
	}
	off := int(ext&b.mask) * b.p.MaxPacket
	return copy(dst, b.data[off:off+s.n]), true
}

// PendingNacks appends to dst the sequence numbers (16-bit, as on the wire)
// that are due for a NACK at time now, and marks them sent. A loss is asked
// for at most NackMaxTries times, NackInterval apart, and given up after
// NackMaxAge. With a dst of sufficient capacity it does not allocate.
func (b *Buffer) PendingNacks(now int64, dst []uint16) []uint16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.nacks[:0]
	for _, e := range b.nacks {
		if e.tries >= b.p.NackMaxTries || now-e.firstAt > b.p.NackMaxAge {
			b.stats.NacksGivenUp++
			continue
		}
		if e.tries == 0 || now-e.lastSent >= b.p.NackInterval {
			e.tries++
			e.lastSent = now
			b.stats.NacksSent++
			dst = append(dst, uint16(e.ext))
		}
		kept = append(kept, e)
	}
	b.nacks = kept
	return dst
}

// Stats returns a snapshot of the statistics.
func (b *Buffer) Stats() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.stats
	s.HighestExt = b.highest
	s.Lost = b.lostLocked()
	return s
}
