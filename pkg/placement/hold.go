package placement

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrLeaseLost is returned by Hold when the node no longer owns the room: its lease
// expired and another node took the room, or it was released or taken over.
var ErrLeaseLost = errors.New("placement: lease lost")

// releaseTimeout bounds the Release Hold makes after its context ends.
const releaseTimeout = 2 * time.Second

// Hold keeps node's lease on room for as long as the room lives on node: it renews the
// lease every ttl/3 until ctx ends, then releases it and returns nil. It returns
// ErrLeaseLost as soon as a renewal finds that node no longer owns room; the caller
// should then close the room (clients reconnect to the new owner). While the store is
// unavailable Hold keeps retrying rather than give the room up: no other node can take
// it meanwhile either, and once the store is back the next renewal tells whether the
// lease survived. node must already own room (Locate or Acquire) when Hold starts.
func Hold(ctx context.Context, l Leases, room, node string, ttl time.Duration) error {
	if err := checkArgs(context.Background(), "hold", room, ttl, node); err != nil {
		return err
	}
	every := max(ttl/3, time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		ok, err := l.Renew(ctx, room, node, ttl)
		switch {
		case ctx.Err() != nil:
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			defer cancel()
			if err := l.Release(rctx, room, node); err != nil {
				return fmt.Errorf("placement: hold %q: release: %w", room, err)
			}
			return nil
		case err != nil && !errors.Is(err, ErrUnavailable):
			return fmt.Errorf("placement: hold %q: %w", room, err)
		case err == nil && !ok:
			return fmt.Errorf("placement: hold %q by %q: %w", room, node, ErrLeaseLost)
		}
		select {
		case <-ctx.Done():
		case <-t.C:
		}
	}
}
