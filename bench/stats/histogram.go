// Package stats holds the measurement primitives of the load tester: a log-linear latency
// histogram with percentiles, an exact loss counter driven by per-track sequence numbers,
// and an RFC 3550 interarrival-jitter estimator driven by send timestamps.
//
// None of the types is safe for concurrent use: each receiving goroutine owns its own and
// the runner merges them. They never allocate per sample.
package stats

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// subBuckets is the number of linear buckets per power of two. 64 keeps the relative
// error of any reported percentile under 1/64 (1.6%).
const (
	subBits    = 6
	subBuckets = 1 << subBits
	// maxExp covers values up to 2^40 ns (about 18 minutes), far beyond any latency.
	maxExp     = 40
	numBuckets = (maxExp + 1) * subBuckets
)

// Histogram records non-negative durations with bounded relative error. The zero value is
// ready to use. Negative durations (clock skew) are recorded as zero.
type Histogram struct {
	counts [numBuckets]uint64
	n      uint64
	sum    float64
	min    time.Duration
	max    time.Duration
}

func bucketOf(v uint64) int {
	if v < subBuckets {
		return int(v)
	}
	exp := bits.Len64(v) - subBits // >= 1
	if exp > maxExp {
		return numBuckets - 1
	}
	mant := v >> uint(exp-1) // in [subBuckets, 2*subBuckets)
	return exp*subBuckets + int(mant-subBuckets)
}

// bucketHigh returns the largest value that falls into bucket i.
func bucketHigh(i int) uint64 {
	if i < subBuckets {
		return uint64(i)
	}
	exp := i / subBuckets
	mant := uint64(i%subBuckets) + subBuckets
	return (mant+1)<<uint(exp-1) - 1
}

// Record adds one sample.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	if d > h.max {
		h.max = d
	}
	h.n++
	h.sum += float64(d)
}

// Merge adds every sample of o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	if o.max > h.max {
		h.max = o.max
	}
	h.n += o.n
	h.sum += o.sum
}

// Count is the number of samples recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest sample, exact.
func (h *Histogram) Max() time.Duration { return h.max }

// Mean is the exact mean, zero without samples.
func (h *Histogram) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return time.Duration(h.sum / float64(h.n))
}

// Percentile returns the value below which a fraction p (0..1) of the samples fall, using
// the nearest-rank definition, clamped to the exact min and max. Zero without samples.
func (h *Histogram) Percentile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := nearestRank(p, h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			v := time.Duration(bucketHigh(i))
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}

// nearestRank is ceil(p*n), at least 1 and at most n.
func nearestRank(p float64, n uint64) uint64 {
	r := uint64(math.Ceil(p * float64(n)))
	return min(max(r, 1), n)
}

// Percentiles returns the exact nearest-rank percentiles of a small sample set (join times);
// samples is sorted in place. Zero values without samples.
func Percentiles(samples []time.Duration, ps ...float64) []time.Duration {
	out := make([]time.Duration, len(ps))
	if len(samples) == 0 {
		return out
	}
	slices.Sort(samples)
	for i, p := range ps {
		out[i] = samples[nearestRank(p, uint64(len(samples)))-1]
	}
	return out
}
