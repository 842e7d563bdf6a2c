package placement

import (
	"math/rand/v2"

	"github.com/atrium-live/atrium/pkg/cluster"
)

// Candidate is a node Pick may choose.
type Candidate struct {
	NodeID   string
	Draining bool
	Load     cluster.Load
}

// Headroom is a node's spare capacity in [0,1], from its reported load:
//
//	cpu   = 1 - clamp(CPU, 0, 1)
//	parts = 1 - clamp(Participants / MaxParticipants, 0, 1)   (1 when MaxParticipants is 0: unknown)
//	Headroom = min(cpu, parts)
//
// The minimum, because whichever resource runs out first is what stops the node taking
// more: a node at 90% CPU with few participants is as full as one at its participant cap.
func Headroom(l cluster.Load) float64 {
	h := 1 - clamp01(l.CPU)
	if l.MaxParticipants > 0 {
		h = min(h, 1-clamp01(float64(l.Participants)/float64(l.MaxParticipants)))
	}
	return h
}

func clamp01(x float64) float64 {
	switch {
	case x != x: // NaN: a broken report counts as full
		return 1
	case x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}

// Pick chooses the node for a new room. Draining nodes are never chosen. Among the rest,
// nodes with headroom left are preferred over full ones (a full node is chosen only when
// every node is full: the node's own admission control may still refuse participants).
// Then power of two random choices: two distinct candidates drawn at random, the one with
// more headroom wins; on equal headroom the one with fewer rooms (so that rooms spread
// while loads are still equal, e.g. an idle cluster), then a coin. One candidate is
// chosen outright.
// ErrNoNode when there is no candidate.
//
// rnd must not be shared between goroutines without a lock (math/rand/v2 sources are not
// safe for concurrent use); nil means a fresh runtime-seeded source.
func Pick(cands []Candidate, rnd *rand.Rand) (string, error) {
	if rnd == nil {
		rnd = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	pool := make([]int, 0, len(cands))
	for i, c := range cands {
		if !c.Draining && Headroom(c.Load) > 0 {
			pool = append(pool, i)
		}
	}
	if len(pool) == 0 { // every serving node is full: still place rather than refuse
		for i, c := range cands {
			if !c.Draining {
				pool = append(pool, i)
			}
		}
	}
	switch len(pool) {
	case 0:
		return "", ErrNoNode
	case 1:
		return cands[pool[0]].NodeID, nil
	}
	i := rnd.IntN(len(pool))
	j := rnd.IntN(len(pool) - 1)
	if j >= i { // two distinct candidates, each pair equally likely
		j++
	}
	a, b := cands[pool[i]], cands[pool[j]]
	ha, hb := Headroom(a.Load), Headroom(b.Load)
	switch {
	case ha > hb+tieEpsilon:
		return a.NodeID, nil
	case hb > ha+tieEpsilon:
		return b.NodeID, nil
	case b.Load.Rooms < a.Load.Rooms:
		return b.NodeID, nil
	}
	// a and b are a random ordered pair, so a is a fair coin between the two.
	return a.NodeID, nil
}

// tieEpsilon treats headrooms within 10 points as equal: CPU is sampled every few seconds
// and jitters by more than that between two idle nodes, so a finer comparison would send
// every new room to whichever node happened to sample a quiet moment, instead of spreading
// rooms by count while the nodes are about equally loaded.
const tieEpsilon = 0.1
