package buffer

import (
	"errors"
	"math"
	"slices"
	"testing"
)

const ms = int64(1e6)

func pkt(seq uint16, size int) []byte {
	b := make([]byte, size)
	b[0] = 0x80
	b[2], b[3] = byte(seq>>8), byte(seq)
	b[size-1] = byte(seq)
	return b
}

func TestExtendedSequenceAndReorder(t *testing.T) {
	b := New(Params{Size: 64, ClockRate: 90000})
	type in struct {
		seq     uint16
		wantExt uint64
		wantSt  Status
		wantErr error
	}
	const base = 1 << 16
	steps := []in{
		{65533, base + 65533, InOrder, nil},
		{65534, base + 65534, InOrder, nil},
		{1, base + 65537, InOrder, nil}, // wrapped, 65535 and 0 missing
		{65535, base + 65535, OutOfOrder, nil},
		{65535, 0, 0, ErrDuplicate},
		{1, 0, 0, ErrDuplicate},
		{0, base + 65536, OutOfOrder, nil},
		{2, base + 65538, InOrder, nil},
		{65533 - 100, 0, 0, ErrTooOld}, // beyond the window
	}
	for i, s := range steps {
		ext, st, stored, err := b.Push(pkt(s.seq, 100), s.seq, 0, int64(i)*ms)
		if !errors.Is(err, s.wantErr) || ext != s.wantExt || st != s.wantSt {
			t.Fatalf("step %d: Push(seq %d) = %d, %v, %v; want %d, %v, %v", i, s.seq, ext, st, err, s.wantExt, s.wantSt, s.wantErr)
		}
		if err == nil && (len(stored) != 100 || stored[99] != byte(s.seq)) {
			t.Fatalf("step %d: stored copy is wrong: len %d", i, len(stored))
		}
	}
	st := b.Stats()
	if st.Packets != 6 || st.Duplicates != 2 || st.OutOfOrder != 2 || st.Lost != 0 {
		t.Errorf("Stats() = %+v, want 6 packets, 2 duplicates, 2 out of order, 0 lost", st)
	}
}

func TestCopy(t *testing.T) {
	b := New(Params{Size: 16})
	var exts []uint64
	for s := uint16(0); s < 40; s++ {
		ext, _, _, err := b.Push(pkt(s, 50+int(s)), s, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		exts = append(exts, ext)
	}
	dst := make([]byte, 1500)
	for i, ext := range exts {
		n, ok := b.Copy(ext, dst)
		if wantOK := i >= 40-16; ok != wantOK {
			t.Fatalf("Copy(%d) ok = %v, want %v", ext, ok, wantOK)
		}
		if ok && (n != 50+i || dst[n-1] != byte(i)) {
			t.Fatalf("Copy(%d) = %d bytes ending %d, want %d ending %d", ext, n, dst[n-1], 50+i, i)
		}
	}
	if _, _, _, err := b.Push(make([]byte, 1501), 41, 0, 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Push(1501 bytes) error = %v, want ErrTooLarge", err)
	}
}

func TestNacks(t *testing.T) {
	b := New(Params{Size: 256, NackMaxTries: 3, NackInterval: 30 * ms, NackMaxAge: 1000 * ms})
	push := func(seq uint16, at int64) {
		t.Helper()
		if _, _, _, err := b.Push(pkt(seq, 20), seq, 0, at); err != nil {
			t.Fatal(err)
		}
	}
	nacks := func(at int64) []uint16 { return b.PendingNacks(at, nil) }

	push(10, 0)
	push(11, 1*ms)
	push(15, 2*ms) // 12, 13, 14 lost
	if got, want := nacks(3*ms), []uint16{12, 13, 14}; !slices.Equal(got, want) {
		t.Fatalf("first NACK batch = %v, want %v", got, want)
	}
	if got := nacks(10 * ms); len(got) != 0 {
		t.Fatalf("NACKs 7 ms later = %v, want none (interval 30 ms)", got)
	}
	push(13, 20*ms) // repaired
	if got, want := nacks(40*ms), []uint16{12, 14}; !slices.Equal(got, want) {
		t.Fatalf("second batch = %v, want %v", got, want)
	}
	if got, want := nacks(80*ms), []uint16{12, 14}; !slices.Equal(got, want) {
		t.Fatalf("third batch = %v, want %v", got, want)
	}
	if got := nacks(120 * ms); len(got) != 0 {
		t.Fatalf("after 3 tries NACKs = %v, want none", got)
	}
	st := b.Stats()
	if st.NacksSent != 7 || st.NacksGivenUp != 2 || st.Lost != 2 {
		t.Errorf("Stats() = %+v, want 7 NACKs sent, 2 given up, 2 lost", st)
	}

	// Too old: given up after NackMaxAge even with tries left.
	push(17, 200*ms)
	if got := nacks(1300 * ms); len(got) != 0 {
		t.Errorf("NACKs for a loss 1.1 s old = %v, want none", got)
	}

	// A gap wider than the buffer is a discontinuity, not a loss to repair.
	push(17+300, 1400*ms)
	if got := nacks(1401 * ms); len(got) != 0 {
		t.Errorf("NACKs after a 300-packet jump = %d entries, want none", len(got))
	}
}

func TestJitter(t *testing.T) {
	// Packets sent every 20 ms (1800 ticks at 90 kHz); every other packet is
	// delayed by 10 ms, so |D| = 900 ticks each time and J converges to 900
	// (RFC 3550 A.8).
	b := New(Params{Size: 64, ClockRate: 90000})
	for i := range 400 {
		at := int64(i) * 20 * ms
		if i%2 == 1 {
			at += 10 * ms
		}
		seq := uint16(i)
		if _, _, _, err := b.Push(pkt(seq, 20), seq, uint32(i*1800), at); err != nil {
			t.Fatal(err)
		}
	}
	if j := b.Stats().Jitter; math.Abs(j-900) > 10 {
		t.Errorf("Jitter = %.1f, want about 900", j)
	}

	steady := New(Params{Size: 64, ClockRate: 48000})
	for i := range 100 {
		seq := uint16(i)
		if _, _, _, err := steady.Push(pkt(seq, 20), seq, uint32(i*960), int64(i)*20*ms); err != nil {
			t.Fatal(err)
		}
	}
	if j := steady.Stats().Jitter; j > 0.5 {
		t.Errorf("Jitter of a perfectly paced stream = %.2f, want 0", j)
	}
}

func TestPushDoesNotAllocate(t *testing.T) {
	b := New(Params{Size: 512, ClockRate: 90000})
	raw := pkt(0, 1200)
	nacks := make([]uint16, 0, 64)
	seq := uint16(0)
	allocs := testing.AllocsPerRun(10000, func() {
		seq++
		if seq%50 == 0 {
			seq++ // a loss now and then
		}
		raw[2], raw[3] = byte(seq>>8), byte(seq)
		if _, _, _, err := b.Push(raw, seq, uint32(seq)*3000, int64(seq)*ms); err != nil {
			t.Fatal(err)
		}
		nacks = b.PendingNacks(int64(seq)*ms, nacks[:0])
	})
	if allocs != 0 {
		t.Errorf("Push+PendingNacks allocate %.1f times per packet, want 0", allocs)
	}
}

func TestSequenceRestart(t *testing.T) {
	b := New(Params{Size: 64, ClockRate: 90000})
	var last uint64
	for s := uint16(40000); s < 40100; s++ {
		if s == 40050 {
			continue // one loss before the restart
		}
		ext, _, _, err := b.Push(pkt(s, 20), s, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		last = ext
	}
	// The sender restarts at 20000: the first packets are too old for the
	// window, then a run of them is recognised as a restart.
	var got []Status
	var exts []uint64
	for s := uint16(20000); s < 20000+resetRun+2; s++ {
		ext, st, _, err := b.Push(pkt(s, 20), s, 0, 0)
		if errors.Is(err, ErrTooOld) {
			got = append(got, 0)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, st)
		exts = append(exts, ext)
	}
	want := []Status{0, 0, 0, Reset, InOrder, InOrder}
	if !slices.Equal(got, want) {
		t.Fatalf("statuses after restart = %v, want %v", got, want)
	}
	if exts[0] <= last+64 || exts[0]&0xffff != 20003 || exts[1] != exts[0]+1 {
		t.Errorf("extended numbers %v after %d: want beyond the window, low bits = seq, contiguous", exts, last)
	}
	if got := b.PendingNacks(1e9, nil); len(got) != 0 {
		t.Errorf("NACKs after restart: %v, want none", got)
	}
	if st := b.Stats(); st.Resets != 1 || st.Lost != 1 {
		t.Errorf("Stats() resets %d lost %d, want 1 and 1 (the loss before the restart)", st.Resets, st.Lost)
	}
	// A forward jump beyond the window is a discontinuity too.
	jump := uint16(20005 + 30000)
	if _, st, _, err := b.Push(pkt(jump, 20), jump, 0, 0); err != nil || st != Reset {
		t.Errorf("Push after a 30000 jump = %v, %v, want Reset", st, err)
	}
	if st := b.Stats(); st.Resets != 2 || st.Lost != 1 {
		t.Errorf("after the jump: resets %d lost %d, want 2 and 1 (a jump is not loss)", st.Resets, st.Lost)
	}
	// Scattered ancient packets are not a restart.
	c := New(Params{Size: 64})
	for s := uint16(1000); s < 1100; s++ {
		if _, _, _, err := c.Push(pkt(s, 20), s, 0, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []uint16{10, 20, 30, 40, 50, 60} {
		if _, _, _, err := c.Push(pkt(s, 20), s, 0, 0); !errors.Is(err, ErrTooOld) {
			t.Errorf("scattered old packet %d: err %v, want ErrTooOld", s, err)
		}
	}
}
