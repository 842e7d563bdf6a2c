package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Signal paths a participant may take to its room.
const (
	// PathTarget is through Options.Target: a cluster gateway, or any node, that proxies the
	// signal connection to the room's owner.
	PathTarget = "target"
	// PathDirect is straight to the room's owner node (Group.Direct).
	PathDirect = "direct"
)

// PathJoins are the join times of the subscribe-only participants that took one signal
// path. Publishers are left out: their joins also publish, and they all take the target.
type PathJoins struct {
	Path string `json:"path"`
	// WSToJoinedMs: WebSocket dial start -> joined (join response and ICE connected).
	WSToJoinedMs Percentiles `json:"ws_to_joined_ms"`
	// WSToFirstMediaMs: WebSocket dial start -> first media packet received.
	WSToFirstMediaMs Percentiles `json:"ws_to_first_media_ms"`
}

// joinSamples are raw join durations, kept (unexported) so that the figures of several
// rooms can be merged exactly rather than by averaging percentiles.
type joinSamples struct {
	wsJoined, wsFirst []time.Duration
}

func (s *joinSamples) add(o *joinSamples) {
	if o == nil {
		return
	}
	s.wsJoined = append(s.wsJoined, o.wsJoined...)
	s.wsFirst = append(s.wsFirst, o.wsFirst...)
}

// hasDirect reports whether some participants join the owner node directly.
func (s *Scenario) hasDirect() bool {
	for _, g := range s.Groups {
		if g.Direct && g.Count > 0 {
			return true
		}
	}
	return false
}

// interleaveDirect orders subscribers so that direct and target joins alternate (the rest
// in their original order at the end), a target one first unless directFirst: both paths
// then meet the same room size and the same load on the machine, and the difference
// between them is the path's.
func interleaveDirect(subs []*participant, directFirst bool) []*participant {
	var target, direct []*participant
	for _, p := range subs {
		if p.group.Direct {
			direct = append(direct, p)
		} else {
			target = append(target, p)
		}
	}
	if len(direct) == 0 {
		return subs
	}
	first, second := target, direct
	if directFirst {
		first, second = direct, target
	}
	out := make([]*participant, 0, len(subs))
	for i := 0; i < max(len(first), len(second)); i++ {
		if i < len(first) {
			out = append(out, first[i])
		}
		if i < len(second) {
			out = append(out, second[i])
		}
	}
	return out
}

// ownerURL is the owner node's URL, resolved once from the first join through the target.
type ownerURL struct {
	once  sync.Once
	ready chan struct{} // closed once url or err is set
	url   string
	err   error
}

// resolve looks node up with lookup, once per run, in the background (a join through the
// target must not wait for it).
func (o *ownerURL) resolve(ctx context.Context, node string, lookup func(context.Context, string) (string, error)) {
	o.once.Do(func() {
		go func() {
			defer close(o.ready)
			if node == "" {
				o.err = errors.New("the server named no node in its join response (ServerInfo.NodeId): is it a cluster node?")
				return
			}
			u, err := lookup(ctx, node)
			switch {
			case err != nil:
				o.err = fmt.Errorf("owner node %s: %w", node, err)
			case u == "":
				o.err = fmt.Errorf("owner node %s: no URL", node)
			default:
				o.url = u
			}
		}()
	})
}

// wait returns the owner's URL once it is known, or ctx's error.
func (o *ownerURL) wait(ctx context.Context) (string, error) {
	select {
	case <-o.ready:
		return o.url, o.err
	case <-ctx.Done():
		return "", fmt.Errorf("owner node not known yet (no join through the target succeeded): %w", ctx.Err())
	}
}
