package placement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/atrium-live/atrium/pkg/cluster"
)

// Members is the view of the gossip cluster a Placer needs (*cluster.Cluster has it).
type Members interface {
	Members() []cluster.Meta
	Alive(id string) bool
}

var _ Members = (*cluster.Cluster)(nil)

// Departures is what a Members may also tell: whether a member that is not alive was
// declared dead or left (Gone), as opposed to not being known yet. With it, a Placer takes
// a room over only from an owner known to be gone; *cluster.Cluster implements it.
type Departures interface {
	Gone(id string) bool
}

var _ Departures = (*cluster.Cluster)(nil)

// ErrOwnerUnknown: the room's owner is neither alive nor known to be gone in this member's
// view (it probably joined a moment ago and gossip has not brought it here yet). Retry
// shortly; taking the room over now could split it in two.
var ErrOwnerUnknown = errors.New("placement: room owner not known here yet")

// PlacerConfig configures a Placer. Leases and Members are required.
type PlacerConfig struct {
	Leases  Leases
	Members Members
	TTL     time.Duration // lease length given to a newly placed room (default 30s)
	// LocalFallback is the node id to answer when the store is unavailable; "" = fail
	// with ErrUnavailable.
	LocalFallback string
	Rand          *rand.Rand   // default: seeded from the runtime; used under the Placer's lock
	Logger        *slog.Logger // default: discard
}

// DefaultTTL is the lease length a Placer gives when PlacerConfig.TTL is zero.
const DefaultTTL = 30 * time.Second

// recentWindow is how long a Placer counts its own placements on top of a node's
// gossiped room count: about the time the node needs to report the new room itself.
const recentWindow = 5 * time.Second

// locateAttempts bounds how often Locate re-reads the owner when it loses a race to a
// placer whose choice it does not see alive.
const locateAttempts = 3

// Placer finds or chooses the node for a room. It is safe for concurrent use.
type Placer struct {
	cfg PlacerConfig
	log *slog.Logger

	mu     sync.Mutex // guards rnd and recent
	rnd    *rand.Rand
	recent []placed
}

type placed struct {
	node string
	at   time.Time
}

// NewPlacer returns a Placer. It panics if Leases or Members is nil (a wiring bug).
func NewPlacer(cfg PlacerConfig) *Placer {
	if cfg.Leases == nil || cfg.Members == nil {
		panic("placement: NewPlacer needs Leases and Members")
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Placer{cfg: cfg, log: cfg.Logger.With("component", "placement"), rnd: cfg.Rand}
}

// Locate returns the node that owns room, placing it if unowned (Pick among serving SFU
// members, then Acquire: racing placers converge on one owner) and taking it over if the
// owner is not alive in gossip. ErrUnavailable (or the fallback node) when the store is
// down; ErrNoNode when no SFU member can take the room.
//
// The lease Locate creates is held in the chosen node's name: that node must Renew it
// while the room lives, or it expires after the TTL (a room placed for a client that
// never arrives frees itself).
func (p *Placer) Locate(ctx context.Context, room string) (string, error) {
	if room == "" {
		return "", fmt.Errorf("%w: locate: empty room name", ErrInvalid)
	}
	for range locateAttempts {
		owner, err := p.cfg.Leases.Owner(ctx, room)
		if err != nil {
			return p.fallback(room, err)
		}
		if owner != "" && p.cfg.Members.Alive(owner) {
			return owner, nil
		}
		if owner != "" {
			if d, ok := p.cfg.Members.(Departures); ok && !d.Gone(owner) {
				return "", fmt.Errorf("placement: locate %q: owner %s: %w", room, owner, ErrOwnerUnknown)
			}
		}
		choice, err := p.pick()
		if err != nil {
			return "", fmt.Errorf("placement: locate %q: %w", room, err)
		}
		var got string
		if owner == "" {
			got, err = p.cfg.Leases.Acquire(ctx, room, choice, p.cfg.TTL)
		} else {
			got, err = p.cfg.Leases.Takeover(ctx, room, owner, choice, p.cfg.TTL)
			if err == nil && got == choice {
				p.log.Info("room taken over from a node gossip does not list", "room", room, "from", owner, "to", choice)
			}
		}
		if err != nil {
			return p.fallback(room, err)
		}
		if got == choice {
			p.noteRecent(choice)
			return choice, nil
		}
		if p.cfg.Members.Alive(got) {
			return got, nil // another placer won the race
		}
		// Another placer chose a node this one does not see alive (gossip lag, or it
		// died since): look again.
	}
	return "", fmt.Errorf("placement: locate %q: owner still not alive after %d attempts: %w", room, locateAttempts, ErrNoNode)
}

func (p *Placer) fallback(room string, err error) (string, error) {
	if errors.Is(err, ErrUnavailable) && p.cfg.LocalFallback != "" {
		p.log.Warn("placement store unavailable; using the local node", "room", room, "node", p.cfg.LocalFallback, "err", err)
		return p.cfg.LocalFallback, nil
	}
	return "", fmt.Errorf("placement: locate %q: %w", room, err)
}

// candidates lists the SFU members as Pick sees them, with the rooms this Placer placed
// on them lately added to their gossiped room count.
func (p *Placer) candidates(now time.Time) []Candidate {
	var out []Candidate
	for _, m := range p.cfg.Members.Members() {
		if m.Role != cluster.RoleSFU {
			continue
		}
		c := Candidate{NodeID: m.NodeID, Draining: m.State == cluster.StateDraining, Load: m.Load}
		for _, r := range p.recent {
			if r.node == m.NodeID && now.Sub(r.at) < recentWindow {
				c.Load.Rooms++
			}
		}
		out = append(out, c)
	}
	return out
}

func (p *Placer) pick() (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return Pick(p.candidates(time.Now()), p.rnd)
}

func (p *Placer) noteRecent(node string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	kept := p.recent[:0]
	for _, r := range p.recent {
		if now.Sub(r.at) < recentWindow {
			kept = append(kept, r)
		}
	}
	p.recent = append(kept, placed{node: node, at: now})
}
