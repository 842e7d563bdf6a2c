// Package placement decides which SFU node hosts a room and keeps that decision in one
// place for the whole cluster.
//
// A room is owned by one node through a lease with an expiry (Leases): in Redis for a
// cluster (NewRedis), in process for a single node (NewMemory). The decision of where a
// new room goes is a pure function (Pick: power of two random choices by Headroom, never
// a draining node). Placer ties them to gossip membership: Locate returns a room's owner,
// placing the room if it has none and taking it over if its owner died.
//
// This package may be imported by any service; it imports only pkg/cluster.
package placement

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Sentinel errors. Store failures wrap ErrUnavailable (and the store's own error).
var (
	ErrUnavailable = errors.New("placement: store unavailable")
	ErrNoNode      = errors.New("placement: no serving node")
)

// Leases records which node owns each room. Ownership is a lease with an expiry: the
// owner must Renew it before it runs out, or anyone may take the room. Implementations
// are safe for concurrent use, by several processes for the Redis one.
type Leases interface {
	// Acquire makes node the owner of room if the room has no owner; it returns the owner
	// after the call (node itself, or whoever already held it). It does not extend a
	// lease node already holds (that is Renew).
	Acquire(ctx context.Context, room, node string, ttl time.Duration) (owner string, err error)
	// Renew extends node's lease; false if node no longer owns room (expired and taken,
	// or released).
	Renew(ctx context.Context, room, node string, ttl time.Duration) (bool, error)
	// Release drops node's lease if node still holds it (compare-and-delete).
	Release(ctx context.Context, room, node string) error
	// Owner is the current owner, "" if none.
	Owner(ctx context.Context, room string) (string, error)
	// Takeover replaces owner `from` (dead) by `to` atomically; returns the owner after
	// the call. A room owned by someone other than from is left alone; a room with no
	// owner (from's lease expired or was released) goes to `to`.
	Takeover(ctx context.Context, room, from, to string, ttl time.Duration) (owner string, err error)
	// ReleaseAll drops every lease held by node (used when gossip marks node dead);
	// returns how many.
	ReleaseAll(ctx context.Context, node string) (int, error)
	// Rooms lists rooms and their owners, at most limit of them (limit must be > 0).
	Rooms(ctx context.Context, limit int) (map[string]string, error)
}

// ErrInvalid is returned (wrapped) for arguments no store could accept: an empty room or
// node name, a ttl under a millisecond, a limit under 1.
var ErrInvalid = errors.New("placement: invalid argument")

// checkArgs validates the arguments shared by the Leases methods and reports a context
// that is already done (the Redis client would fail on it anyway; the memory store does
// the same so that both behave alike).
func checkArgs(ctx context.Context, op, room string, ttl time.Duration, nodes ...string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("placement: %s %q: %w", op, room, err)
	}
	if room == "" {
		return fmt.Errorf("%w: %s: empty room name", ErrInvalid, op)
	}
	for _, n := range nodes {
		if n == "" {
			return fmt.Errorf("%w: %s %q: empty node id", ErrInvalid, op, room)
		}
	}
	if ttl < time.Millisecond {
		return fmt.Errorf("%w: %s %q: ttl %v is under 1ms", ErrInvalid, op, room, ttl)
	}
	return nil
}

func checkLimit(ctx context.Context, limit int) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("placement: rooms: %w", err)
	}
	if limit < 1 {
		return fmt.Errorf("%w: rooms: limit %d, want >= 1", ErrInvalid, limit)
	}
	return nil
}
