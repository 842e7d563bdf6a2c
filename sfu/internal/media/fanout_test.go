package media

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// parallelRig is a Receiver whose fan-out is shared with workers from 4
// subscribers on, with a clock the workers may read concurrently.
type parallelRig struct {
	g     *testRig
	clock atomic.Int64
	seq   uint16
	n     int
	raw   []byte
}

func newParallelRig(t *testing.T, subscribers int) (*parallelRig, []*fakeWriter) {
	t.Helper()
	p := &parallelRig{g: newRig(t, ReceiverParams{TrackID: "TR_par", Fanout: FanoutParams{Workers: 2, ParallelMin: 4}})}
	p.g.r.clock = p.clock.Load
	p.g.r.AddLayer("", 1000)
	var ws []*fakeWriter
	for i := range subscribers {
		_, w := p.g.subscribe(uint32(2000+i), 96, nil, false)
		ws = append(ws, w)
	}
	return p, ws
}

// packet writes VP8 packet number p.n (a keyframe first), its number in the
// payload. It reuses one buffer, so that it allocates nothing itself.
func (p *parallelRig) packet(t *testing.T) {
	t.Helper()
	if p.raw == nil {
		var err error
		p.raw, err = (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1000, PayloadType: 96}, Payload: make([]byte, 7)}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
	}
	p.clock.Add(int64(time.Millisecond))
	ts := uint32(p.n/3) * 3000
	b := p.raw
	b[2], b[3] = byte(p.seq>>8), byte(p.seq)
	b[4], b[5], b[6], b[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	copy(b[12:], []byte{0x10, 0x01, byte(p.n >> 16), byte(p.n >> 8), byte(p.n), 0xaa, 0xbb})
	if p.n == 0 {
		b[13] = 0x00 // keyframe
	}
	l, _ := p.g.r.layer(0)
	if err := p.g.r.write(l, b, p.clock.Load()); err != nil {
		t.Fatalf("write: %v", err)
	}
	p.seq++
	p.n++
}

// collect waits until every writer got want packets and checks that each
// got packets from..want-1 in order and intact.
func collect(t *testing.T, ws []*fakeWriter, from, want int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	got := make([][]rtp.Packet, len(ws))
	for i, w := range ws {
		for len(got[i]) < want-from {
			got[i] = append(got[i], w.take()...)
			if time.Now().After(deadline) {
				t.Fatalf("subscriber %d got %d packets, want %d", i, len(got[i]), want-from)
			}
			if len(got[i]) < want-from {
				time.Sleep(time.Millisecond)
			}
		}
		for k, pkt := range got[i] {
			n := int(pkt.Payload[2])<<16 | int(pkt.Payload[3])<<8 | int(pkt.Payload[4])
			if n != from+k || len(pkt.Payload) != 7 || pkt.Payload[6] != 0xbb {
				t.Fatalf("subscriber %d: packet %d carries %d (% x), want %d intact", i, k, n, pkt.Payload, from+k)
			}
			if k > 0 && pkt.SequenceNumber != got[i][k-1].SequenceNumber+1 {
				t.Fatalf("subscriber %d: seq %d after %d", i, pkt.SequenceNumber, got[i][k-1].SequenceNumber)
			}
		}
	}
}

// TestFanoutParallel: with workers, every subscriber still gets every
// packet once, in order and intact, also across the switch back to inline
// writes when the room shrinks, and Close stops the workers (TestMain
// checks for leaked goroutines).
func TestFanoutParallel(t *testing.T) {
	p, ws := newParallelRig(t, 9)
	dts := p.g.r.DownTracks()
	var perShare [3]int
	for _, dt := range dts {
		perShare[dt.share]++
	}
	if perShare != [3]int{3, 3, 3} {
		t.Errorf("subscribers per share %v, want [3 3 3]", perShare)
	}
	for range 500 {
		p.packet(t)
	}
	collect(t, ws, 0, 500)
	l, _ := p.g.r.layer(0)
	if l.ring == nil || l.ring.produced.Load() != 500 {
		t.Fatalf("packets were not handed to workers (ring %v)", l.ring)
	}
	// Down to one subscriber per share... and below ParallelMin/2: inline.
	for _, dt := range dts[1:] {
		dt.Close()
	}
	for range 100 {
		p.packet(t)
	}
	collect(t, ws[:1], 500, 600)
	if got := l.ring.produced.Load(); got != 500 {
		t.Errorf("ring got %d packets after the room shrank to 1, want 500 (inline)", got)
	}
}

// TestFanoutParallelDoesNotAllocate is TestFanoutDoesNotAllocate with the
// writes shared with workers.
func TestFanoutParallelDoesNotAllocate(t *testing.T) {
	p, ws := newParallelRig(t, 8)
	for _, w := range ws {
		w.discard = true
	}
	for range 1000 {
		p.packet(t)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 3000
	for range n {
		p.packet(t)
	}
	runtime.ReadMemStats(&after)
	// Tolerance for the runtime's and other goroutines' rare allocations
	// (waking parked workers, the race detector): one per packet would be
	// thousands.
	if a := after.Mallocs - before.Mallocs; a > 10 {
		t.Errorf("forwarding %d packets to 8 subscribers over 2 workers allocated %d times, want ~0", n, a)
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		short := 0
		for _, w := range ws {
			w.mu.Lock()
			if w.n < n+1000 {
				short++
			}
			w.mu.Unlock()
		}
		if short == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers got fewer than %d packets", short, n+1000)
		}
		time.Sleep(time.Millisecond)
	}
}

// benchFanoutLatency measures the time from a packet's arrival until the
// last of n subscribers has been written to (each write costing about
// what pion's SRTP and sendto cost), inline or with workers.
func benchFanoutLatency(b *testing.B, n, workers int) {
	t := &testing.T{}
	g := newRigTB(b, t, ReceiverParams{TrackID: "TR_lat", Fanout: FanoutParams{Workers: workers, ParallelMin: 2}})
	var clock atomic.Int64
	g.r.clock = clock.Load
	g.r.AddLayer("", 1000)
	for i := range n {
		_, w := g.subscribeTB(b, uint32(2000+i), 96, nil, true)
		w.spin = 3 * time.Microsecond
	}
	p := &parallelRig{g: g}
	for range 100 {
		p.packet(t)
	}
	l, _ := g.r.layer(0)
	b.ResetTimer()
	for b.Loop() {
		p.packet(t)
		if l.ring != nil {
			l.ring.drain()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "us/fanout")
}

func BenchmarkFanoutLatency100Inline(b *testing.B)   { benchFanoutLatency(b, 100, -1) }
func BenchmarkFanoutLatency100Workers1(b *testing.B) { benchFanoutLatency(b, 100, 1) }
