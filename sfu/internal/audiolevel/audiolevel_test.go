package audiolevel

import (
	"math"
	"testing"
)

const ms = int64(1e6)

func TestParse(t *testing.T) {
	tests := []struct {
		in        []byte
		dBov      uint8
		voice, ok bool
	}{
		{[]byte{0x80 | 30}, 30, true, true},
		{[]byte{127}, 127, false, true},
		{[]byte{0}, 0, false, true},
		{nil, 0, false, false},
	}
	for _, tt := range tests {
		d, v, ok := Parse(tt.in)
		if d != tt.dBov || v != tt.voice || ok != tt.ok {
			t.Errorf("Parse(% x) = %d, %v, %v, want %d, %v, %v", tt.in, d, v, ok, tt.dBov, tt.voice, tt.ok)
		}
	}
}

func TestMeter(t *testing.T) {
	m := New(Params{})
	if l, a := m.Level(0); l != 0 || a {
		t.Fatalf("Level before any packet = %v, %v, want 0, false", l, a)
	}
	now := int64(1)
	feed := func(dBov uint8, d int64) {
		for end := now + d; now < end; now += 20 * ms {
			m.Observe(dBov, now)
		}
	}
	feed(127, 1000*ms) // silence
	if l, a := m.Level(now); a || l > 0.001 {
		t.Errorf("after silence Level = %v, %v, want ~0, false", l, a)
	}
	feed(20, 2000*ms) // speech at -20 dBov
	l, a := m.Level(now)
	if !a || math.Abs(l-0.1) > 0.01 {
		t.Errorf("after 2 s at -20 dBov Level = %.3f, %v, want ~0.1, true", l, a)
	}
	feed(127, 100*ms) // a short pause barely moves the smoothed level
	if _, a := m.Level(now); !a {
		t.Errorf("100 ms pause ended activity; smoothing should bridge it")
	}
	feed(127, 3000*ms)
	if _, a := m.Level(now); a {
		t.Errorf("3 s of silence still active")
	}
	feed(10, 2000*ms)
	if _, a := m.Level(now + 1500*ms); a {
		t.Errorf("stream that stopped 1.5 s ago still active")
	}
}
