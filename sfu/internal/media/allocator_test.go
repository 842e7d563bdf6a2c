package media

import (
	"fmt"

	"github.com/pion/rtcp"
	"slices"
	"testing"
	"time"
)

var testRates = [MaxLayers]int{150_000, 500_000, 1_500_000}

func dem(current, maxL int) demand {
	return demand{enabled: true, max: maxL, current: current, rates: testRates}
}

func TestFit(t *testing.T) {
	off := demand{enabled: false, max: 2, current: 2, rates: testRates}
	tests := []struct {
		budget int
		ds     []demand
		want   []int
	}{
		{10_000_000, []demand{dem(2, 2), dem(2, 2)}, []int{2, 2}},
		{10_000_000, []demand{dem(1, 2), dem(2, 0)}, []int{1, 0}},         // never above current or max
		{10_000_000, []demand{dem(-1, 2)}, []int{2}},                      // new track: up to its max
		{1_000_000, []demand{dem(2, 2), dem(2, 2)}, []int{1, 1}},          // 300k + 2 x 350k
		{900_000, []demand{dem(2, 2), dem(2, 2)}, []int{1, 0}},            // round-robin: the first gets the step
		{100_000, []demand{dem(2, 2), dem(2, 2)}, []int{0, 0}},            // always at least layer 0
		{2_000_000, []demand{dem(2, 2), off, dem(2, 2)}, []int{2, -1, 1}}, // 300k + 2 x 350k + 1M
		{0, nil, []int{}},
	}
	for _, tt := range tests {
		if got := fit(tt.budget, tt.ds); !slices.Equal(got, tt.want) {
			t.Errorf("fit(%d, %v) = %v, want %v", tt.budget, tt.ds, got, tt.want)
		}
	}
}

func TestRaiseOne(t *testing.T) {
	cheapTop := testRates
	cheapTop[2] = 600_000
	tests := []struct {
		ds     []demand
		cur    []int
		want   []int
		raised bool
	}{
		{[]demand{dem(1, 2), dem(0, 2)}, []int{1, 0}, []int{1, 1}, true}, // 0->1 is the cheaper step
		{[]demand{dem(1, 2), {enabled: true, max: 2, rates: cheapTop}}, []int{1, 1}, []int{1, 2}, true},
		{[]demand{dem(1, 1), dem(0, 0)}, []int{1, 0}, []int{1, 0}, false},
		{[]demand{{enabled: false, max: 2, rates: testRates}}, []int{-1}, []int{-1}, false},
	}
	for _, tt := range tests {
		got, raised := raiseOne(tt.ds, tt.cur)
		if !slices.Equal(got, tt.want) || raised != tt.raised {
			t.Errorf("raiseOne(%v, %v) = %v, %v, want %v, %v", tt.ds, tt.cur, got, raised, tt.want, tt.raised)
		}
	}
}

// TestAllocatorCongestion plays a subscriber with two simulcast tracks
// through a congestion episode and checks each step's layers.
func TestAllocatorCongestion(t *testing.T) {
	now := time.Unix(1000, 0)
	a := NewAllocator(AllocatorParams{SubscriberID: "PA_sub"})
	a.now = func() time.Time { return now }

	var dts []*DownTrack
	var rigs []*testRig
	for range 2 {
		g := newRig(t, ReceiverParams{TrackID: "TR_x"})
		for i, rid := range []string{"q", "h", "f"} {
			g.r.AddLayer(rid, uint32(1000+i))
		}
		dt, _ := g.subscribe(77, 96, nil, true)
		for l := range MaxLayers { // all layers active (rates unmeasured: 150k/500k/1.5M)
			g.vp8(l, true, 1)
		}
		rigs = append(rigs, g)
		dts = append(dts, dt)
	}
	targets := func() string { return fmt.Sprint([]int{dts[0].TargetLayer(), dts[1].TargetLayer()}) }

	steps := []struct {
		name      string
		advance   time.Duration
		do        func()
		want      string
		congested bool
	}{
		{"added, no estimate: what was asked for", 0, func() { a.Add(dts[0]); a.Add(dts[1]) }, "[2 2]", false},
		{"a high estimate changes nothing", 100 * time.Millisecond, func() { a.SetEstimate(5_000_000) }, "[2 2]", false},
		{"a low but steady first estimate is not congestion", 0, func() { a.SetEstimate(4_500_000) }, "[2 2]", false},
		{"estimate falls below what is sent: fit", 100 * time.Millisecond, func() { a.SetEstimate(1_200_000) }, "[1 1]", true},
		{"subscriber lowers one track: at once", 100 * time.Millisecond, func() { dts[1].SetMaxLayer(0) }, "[1 0]", true},
		{"subscriber raises it again: held", 100 * time.Millisecond, func() { dts[1].SetMaxLayer(2) }, "[1 0]", true},
		{"estimate updates during the hold: held", time.Second, func() { a.SetEstimate(1_250_000) }, "[1 0]", true},
		{"after the hold: one cheapest step", 4 * time.Second, func() { a.SetEstimate(1_300_000) }, "[1 1]", true},
		{"next hold: the next step", 4 * time.Second, func() { a.SetEstimate(1_600_000) }, "[2 1]", true},
		{"the probe caused congestion: fit", time.Second, func() { a.SetEstimate(1_200_000) }, "[1 1]", true},
		{"hold has doubled: no probe after 4 s", 4 * time.Second, func() { a.SetEstimate(1_200_000) }, "[1 1]", true},
		{"probe after 8 s", 4 * time.Second, func() { a.SetEstimate(1_200_000) }, "[2 1]", true},
		{"probe", 8 * time.Second, func() { a.SetEstimate(2_000_000) }, "[2 2]", true},
		{"all at max: congestion over", 8 * time.Second, func() { a.SetEstimate(3_000_000) }, "[2 2]", false},
		{"disabled track", 0, func() { dts[0].SetEnabled(false) }, "[2 2]", false},
		{"removed track keeps its last target", 0, func() { a.Remove(dts[0]); dts[0].SetEnabled(true) }, "[2 2]", false},
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		for _, g := range rigs { // keep layers active on the receivers' clocks
			g.now += int64(s.advance)
			for l := range MaxLayers {
				g.vp8(l, false, 1)
				ll, _ := g.r.layer(l)
				ll.bitrate.Store(int64(testRates[l])) // as if measured
			}
		}
		s.do()
		if got := targets(); got != s.want || a.Congested() != s.congested {
			t.Fatalf("step %d (%s): layers %s congested %v, want %s, %v", i, s.name, got, a.Congested(), s.want, s.congested)
		}
	}
	if l := a.Layers(); len(l) != 1 || l[dts[1]] != 2 {
		t.Errorf("Layers() = %v, want only the remaining track at 2", l)
	}
}

func TestAllocatorREMB(t *testing.T) {
	now := time.Unix(1000, 0)
	a := NewAllocator(AllocatorParams{})
	a.now = func() time.Time { return now }
	g := newRig(t, ReceiverParams{TrackID: "TR_x"})
	for i, rid := range []string{"q", "h", "f"} {
		g.r.AddLayer(rid, uint32(1000+i))
	}
	dt, _ := g.subscribe(77, 96, nil, true)
	for l := range MaxLayers {
		g.vp8(l, true, 1)
	}
	a.Add(dt)
	// REMB reaches the Allocator through the subscriber's RTCP.
	remb := func(bps float32) []rtcp.Packet {
		return []rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: bps, SSRCs: []uint32{77}}}
	}
	dt.HandleRTCP(remb(3_000_000))
	dt.HandleRTCP(remb(400_000)) // fell: REMB alone drives the allocation without TWCC
	if got := dt.TargetLayer(); got != 0 {
		t.Errorf("after REMB 400k: layer %d, want 0", got)
	}
}
