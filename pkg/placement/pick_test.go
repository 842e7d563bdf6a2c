package placement

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/atrium-live/atrium/pkg/cluster"
)

func TestHeadroom(t *testing.T) {
	tests := []struct {
		load cluster.Load
		want float64
	}{
		{cluster.Load{}, 1},
		{cluster.Load{CPU: 0.25}, 0.75},
		{cluster.Load{CPU: 1.5}, 0},
		{cluster.Load{CPU: -1}, 1},
		{cluster.Load{CPU: math.NaN()}, 0},
		{cluster.Load{Participants: 50, MaxParticipants: 200}, 0.75},
		{cluster.Load{CPU: 0.1, Participants: 150, MaxParticipants: 200}, 0.25}, // participants bind
		{cluster.Load{CPU: 0.9, Participants: 10, MaxParticipants: 200}, 0.1},   // CPU binds
		{cluster.Load{Participants: 300, MaxParticipants: 200}, 0},
		{cluster.Load{Participants: 1000}, 1}, // capacity unknown: participants do not count
	}
	for _, tt := range tests {
		if got := Headroom(tt.load); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("Headroom(%+v) = %v, want %v", tt.load, got, tt.want)
		}
	}
}

func cand(id string, cpu float64, draining bool) Candidate {
	return Candidate{NodeID: id, Draining: draining, Load: cluster.Load{CPU: cpu}}
}

func TestPickTable(t *testing.T) {
	tests := []struct {
		name    string
		cands   []Candidate
		allowed []string // every pick must be one of these
		spread  bool     // and each of them must be picked at times
		err     error
	}{
		{"none", nil, nil, false, ErrNoNode},
		{"all draining", []Candidate{cand("a", 0, true), cand("b", 0, true)}, nil, false, ErrNoNode},
		{"single", []Candidate{cand("a", 0.5, false)}, []string{"a"}, false, nil},
		{"single serving among draining", []Candidate{cand("a", 0, true), cand("b", 0.9, false), cand("c", 0, true)}, []string{"b"}, false, nil},
		{"two: more headroom wins", []Candidate{cand("a", 0.8, false), cand("b", 0.2, false)}, []string{"b"}, false, nil},
		{"draining idle node never chosen", []Candidate{cand("idle", 0, true), cand("b", 0.6, false), cand("c", 0.6, false)}, []string{"b", "c"}, true, nil},
		{"most loaded of three never wins", []Candidate{cand("a", 0.1, false), cand("b", 0.2, false), cand("hot", 0.9, false)}, []string{"a", "b"}, true, nil},
		{"full node avoided", []Candidate{cand("full", 1, false), cand("b", 0.95, false)}, []string{"b"}, false, nil},
		{"all full still placed", []Candidate{cand("a", 1, false), cand("b", 1, false), cand("d", 0, true)}, []string{"a", "b"}, true, nil},
	}
	for _, tt := range tests {
		rnd := rand.New(rand.NewPCG(1, 2))
		seen := map[string]int{}
		for range 200 {
			got, err := Pick(tt.cands, rnd)
			if !errors.Is(err, tt.err) {
				t.Fatalf("%s: Pick error = %v, want %v", tt.name, err, tt.err)
			}
			if err != nil {
				continue
			}
			seen[got]++
		}
		for id := range seen {
			if !contains(tt.allowed, id) {
				t.Errorf("%s: Pick chose %q, want one of %v (picks %v)", tt.name, id, tt.allowed, seen)
			}
		}
		for _, id := range tt.allowed {
			if tt.spread && seen[id] == 0 {
				t.Errorf("%s: %q never chosen in 200 picks (%v)", tt.name, id, seen)
			}
		}
	}
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestPickSpreadsWithFeedback: 30 rooms over 3 equal nodes, each placement counted as a
// room on its node (as the node reports, or the Placer counts, it): no node gets more
// than twice another, for any seed.
func TestPickSpreadsWithFeedback(t *testing.T) {
	for seed := range uint64(200) {
		rnd := rand.New(rand.NewPCG(seed, 7))
		cands := []Candidate{cand("a", 0.3, false), cand("b", 0.3, false), cand("c", 0.3, false)}
		count := map[string]int{}
		for range 30 {
			id, err := Pick(cands, rnd)
			if err != nil {
				t.Fatal(err)
			}
			count[id]++
			for i := range cands {
				if cands[i].NodeID == id {
					cands[i].Load.Rooms++
				}
			}
		}
		lo, hi := minMax(count, "a", "b", "c")
		if hi > 2*lo {
			t.Fatalf("seed %d: 30 picks over 3 equal nodes = %v: a node got more than twice another", seed, count)
		}
	}
}

// TestPickFairWhenLoadsAreStale: with loads that never change (no feedback at all), the
// coin on ties still spreads evenly in the long run.
func TestPickFairWhenLoadsAreStale(t *testing.T) {
	rnd := rand.New(rand.NewPCG(42, 42))
	cands := []Candidate{cand("a", 0.3, false), cand("b", 0.3, false), cand("c", 0.3, false)}
	count := map[string]int{}
	for range 3000 {
		id, _ := Pick(cands, rnd)
		count[id]++
	}
	lo, hi := minMax(count, "a", "b", "c")
	if lo < 900 || hi > 1100 {
		t.Errorf("3000 picks over 3 equal nodes = %v, want each within 1000±100", count)
	}
}

// TestPickProportional: the less loaded node of two is always chosen, and among three
// nodes the one with the most headroom gets the most rooms.
func TestPickProportional(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 4))
	cands := []Candidate{cand("light", 0.1, false), cand("mid", 0.5, false), cand("heavy", 0.8, false)}
	count := map[string]int{}
	for range 3000 {
		id, _ := Pick(cands, rnd)
		count[id]++
	}
	// Two distinct of three: light wins 2 pairs of 3, mid 1 of 3, heavy none.
	if count["heavy"] != 0 || count["light"] < 1800 || count["mid"] < 800 {
		t.Errorf("picks = %v, want light ~2000, mid ~1000, heavy 0", count)
	}
}

func minMax(count map[string]int, ids ...string) (lo, hi int) {
	lo = math.MaxInt
	for _, id := range ids {
		lo, hi = min(lo, count[id]), max(hi, count[id])
	}
	return lo, hi
}

func ExamplePick() {
	rnd := rand.New(rand.NewPCG(1, 1))
	id, err := Pick([]Candidate{
		{NodeID: "sfu-1", Load: cluster.Load{CPU: 0.7}},
		{NodeID: "sfu-2", Load: cluster.Load{CPU: 0.2}},
		{NodeID: "sfu-3", Draining: true},
	}, rnd)
	fmt.Println(id, err)
	// Output: sfu-2 <nil>
}
