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
// more headroom wins, a tie is settled at random. One candidate is chosen outright.
// ErrNoNode when there is no candidate.
func Pick(cands []Candidate, rnd *rand.Rand) (string, error) {
	return "", ErrNoNode // filled in below
}
