package stats

import (
	"math"
	"testing"
	"time"
)

func TestHistogramPercentiles(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		samples []time.Duration
		p       float64
		want    time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"single", []time.Duration{3 * ms}, 0.99, 3 * ms},
		{"p50 of 1..100ms", seq(1, 100, ms), 0.50, 50 * ms},
		{"p90 of 1..100ms", seq(1, 100, ms), 0.90, 90 * ms},
		{"p99 of 1..100ms", seq(1, 100, ms), 0.99, 99 * ms},
		{"p100 is max", seq(1, 100, ms), 1, 100 * ms},
		{"p0 is min", seq(5, 100, ms), 0, 5 * ms},
		{"small exact values", seq(1, 10, 1), 0.5, 5},
		{"negative clamps to zero", []time.Duration{-ms, -ms}, 0.5, 0},
	}
	for _, tc := range tests {
		var h Histogram
		for _, s := range tc.samples {
			h.Record(s)
		}
		got := h.Percentile(tc.p)
		if !within(got, tc.want, 1.0/64) {
			t.Errorf("%s: Percentile(%v) = %v, want %v (±1.6%%)", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestHistogramMergeAndMean(t *testing.T) {
	var a, b Histogram
	for _, d := range seq(1, 50, time.Millisecond) {
		a.Record(d)
	}
	for _, d := range seq(51, 100, time.Millisecond) {
		b.Record(d)
	}
	a.Merge(&b)
	if a.Count() != 100 {
		t.Fatalf("Count() = %d, want 100", a.Count())
	}
	if a.Max() != 100*time.Millisecond {
		t.Errorf("Max() = %v, want 100ms", a.Max())
	}
	if got, want := a.Mean(), 50500*time.Microsecond; got != want {
		t.Errorf("Mean() = %v, want %v", got, want)
	}
	if got := a.Percentile(0.95); !within(got, 95*time.Millisecond, 1.0/64) {
		t.Errorf("merged Percentile(0.95) = %v, want 95ms", got)
	}
}

func TestBucketRoundTrip(t *testing.T) {
	for _, v := range []uint64{0, 1, 63, 64, 65, 127, 128, 129, 1000, 123456, 1 << 30, 1<<40 - 1} {
		i := bucketOf(v)
		if hi := bucketHigh(i); hi < v || float64(hi-v) > float64(v)/64+1 {
			t.Errorf("bucketHigh(bucketOf(%d)) = %d, want within 1/64 above", v, hi)
		}
	}
}

func TestPercentilesExact(t *testing.T) {
	samples := []time.Duration{9, 1, 8, 2, 7, 3, 6, 4, 5, 10}
	got := Percentiles(samples, 0.5, 0.95, 0.99)
	want := []time.Duration{5, 10, 10}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Percentiles(1..10)[%d] = %v, want %v", i, got[i], want[i])
		}
	}
	if got := Percentiles(nil, 0.5); got[0] != 0 {
		t.Errorf("Percentiles(nil) = %v, want 0", got)
	}
}

type push struct {
	layer uint8
	seq   uint32
}

func TestLoss(t *testing.T) {
	tests := []struct {
		name               string
		pushes             []push
		expected, received uint64
		dups               uint64
	}{
		{"none", nil, 0, 0, 0},
		{"in order", pk(0, 1, 2, 3, 4, 5), 5, 5, 0},
		{"one gap", pk(0, 1, 2, 4, 5), 5, 4, 0},
		{"reordered fills gap", pk(0, 1, 2, 4, 3, 5), 5, 5, 0},
		{"duplicate counted once", pk(0, 1, 2, 2, 3), 3, 3, 1},
		{"late retransmission fills gap", pk(0, 10, 12, 13, 14, 11), 5, 5, 0},
		{"start mid-stream", pk(0, 1000, 1001, 1003), 4, 3, 0},
		{"wrap-around", pk(0, math.MaxUint32-1, math.MaxUint32, 0, 2), 5, 4, 0},
		{"big jump", pk(0, 1, 5001), 5001, 2, 0},
		{"older than run start ignored", pk(0, 10, 11, 9), 2, 2, 0},
		{"layer switch starts new run",
			append(pk(0, 1, 2, 3), push{2, 500}, push{2, 502}, push{0, 40}), 3 + 3 + 1, 3 + 2 + 1, 0},
	}
	for _, tc := range tests {
		var l Loss
		for _, p := range tc.pushes {
			l.Push(p.layer, p.seq)
		}
		exp, rec := l.Totals()
		if exp != tc.expected || rec != tc.received || l.Duplicates() != tc.dups {
			t.Errorf("%s: Totals() = (%d, %d) dups %d, want (%d, %d) dups %d",
				tc.name, exp, rec, l.Duplicates(), tc.expected, tc.received, tc.dups)
		}
	}
}

func TestLossPercent(t *testing.T) {
	tests := []struct {
		exp, rec uint64
		want     float64
	}{{0, 0, 0}, {100, 100, 0}, {100, 99, 1}, {200, 150, 25}, {10, 12, 0}}
	for _, tc := range tests {
		if got := LossPercent(tc.exp, tc.rec); got != tc.want {
			t.Errorf("LossPercent(%d, %d) = %v, want %v", tc.exp, tc.rec, got, tc.want)
		}
	}
}

func TestJitter(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	ms := time.Millisecond
	tests := []struct {
		name    string
		transit []time.Duration // per packet, sent 20ms apart
		want    time.Duration
	}{
		{"constant delay has no jitter", []time.Duration{5 * ms, 5 * ms, 5 * ms, 5 * ms}, 0},
		{"one step of 16ms", []time.Duration{5 * ms, 21 * ms}, ms},
		{"alternating 0/16ms converges up", alternate(200, 0, 16*ms), 16 * ms},
	}
	for _, tc := range tests {
		var j Jitter
		for i, tr := range tc.transit {
			sent := base.Add(time.Duration(i) * 20 * ms)
			j.Push(sent, sent.Add(tr))
		}
		if got := j.Value(); !within(got, tc.want, 0.01) {
			t.Errorf("%s: Value() = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func seq(from, to int, unit time.Duration) []time.Duration {
	var out []time.Duration
	for i := from; i <= to; i++ {
		out = append(out, time.Duration(i)*unit)
	}
	return out
}

func pk(layer uint8, seqs ...uint32) []push {
	out := make([]push, len(seqs))
	for i, s := range seqs {
		out[i] = push{layer, s}
	}
	return out
}

func alternate(n int, a, b time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		if i%2 == 0 {
			out[i] = a
		} else {
			out[i] = b
		}
	}
	return out
}

func within(got, want time.Duration, rel float64) bool {
	if want == 0 {
		return got == 0
	}
	return math.Abs(float64(got-want)) <= rel*float64(want)+1
}
