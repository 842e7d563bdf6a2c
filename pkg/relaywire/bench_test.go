package relaywire

import "testing"

// BenchmarkSealRTP and BenchmarkOpenRTP: the link's crypto cost per relayed video packet
// (1200-byte RTP), one side each.
func BenchmarkSealRTP(b *testing.B) {
	s, _ := NewSealer(master, "sfu-1", "sfu-2", 1)
	plain := AppendMedia(nil, TypeRTP, "TR_0123456789ab", 2, make([]byte, 1200))
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Seal(buf[:0], plain)
	}
}

func BenchmarkOpenRTP(b *testing.B) {
	s, _ := NewSealer(master, "sfu-1", "sfu-2", 1)
	o, _ := NewOpener(master, "sfu-2", "sfu-1")
	plain := AppendMedia(nil, TypeRTP, "TR_0123456789ab", 2, make([]byte, 1200))
	frames := make([][]byte, 1<<12)
	for i := range frames {
		frames[i] = s.Seal(nil, plain)
	}
	out := make([]byte, 0, 2048)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i == len(frames) {
			// Refill with fresh counters (the replay window refuses old ones).
			b.StopTimer()
			for j := range frames {
				frames[j] = s.Seal(frames[j][:0], plain)
			}
			i = 0
			b.StartTimer()
		}
		if _, err := o.Open(out[:0], frames[i]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
