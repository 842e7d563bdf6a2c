package cluster

import (
	"bytes"
	"errors"
	"time"

	"github.com/hashicorp/memberlist"
)

// delegates plugs the Cluster into memberlist. memberlist calls these from its network
// goroutines, often with its node lock held: they must be thread-safe and never block.
type delegates struct{ c *Cluster }

var (
	_ memberlist.Delegate      = (*delegates)(nil)
	_ memberlist.EventDelegate = (*delegates)(nil)
	_ memberlist.AliveDelegate = (*delegates)(nil)
	_ memberlist.MergeDelegate = (*delegates)(nil)
)

// NodeMeta returns the own metadata, already validated and size-checked by Join/Update.
func (d *delegates) NodeMeta(limit int) []byte {
	d.c.mu.RLock()
	defer d.c.mu.RUnlock()
	if len(d.c.selfBytes) > limit { // cannot happen: MaxMetaSize equals memberlist's limit
		return nil
	}
	return append([]byte(nil), d.c.selfBytes...)
}

// NotifyMsg receives the leave notices of members about to Leave (see announceLeave).
// Push/pull state and broadcasts are not used: everything else travels in node metadata.
func (d *delegates) NotifyMsg(b []byte) {
	if id, ok := bytes.CutPrefix(b, leaveNotice); ok && len(id) > 0 {
		d.c.noteLeaving(string(id))
	}
}

func (d *delegates) GetBroadcasts(overhead, limit int) [][]byte { return nil }
func (d *delegates) LocalState(join bool) []byte                { return nil }
func (d *delegates) MergeRemoteState(buf []byte, join bool)     {}

// NotifyAlive is the door: an alive message whose metadata is invalid, or names another
// node, is ignored, so the member is never admitted or its metadata never replaced.
func (d *delegates) NotifyAlive(n *memberlist.Node) error {
	if _, err := decodeMeta(n.Name, n.Meta); err != nil {
		d.c.reject(n, err)
		return err
	}
	return nil
}

// NotifyMerge refuses a join (push/pull merge) if any live member of the other side has
// invalid metadata: that is how a misconfigured node knocking on our door is turned away.
func (d *delegates) NotifyMerge(peers []*memberlist.Node) error {
	var errs []error
	for _, n := range peers {
		if n.State == memberlist.StateDead || n.State == memberlist.StateLeft {
			continue
		}
		if _, err := decodeMeta(n.Name, n.Meta); err != nil {
			d.c.reject(n, err)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (d *delegates) NotifyJoin(n *memberlist.Node)   { d.c.observe(n, EventJoin) }
func (d *delegates) NotifyUpdate(n *memberlist.Node) { d.c.observe(n, EventUpdate) }

// NotifyLeave reports a departed member; observe tells a graceful leave from a failure.
// (memberlist v0.7.0 leaves Node.State at its zero value here, so the state it keeps
// internally cannot be read; the leave notice is what tells the two apart.)
func (d *delegates) NotifyLeave(n *memberlist.Node) {
	kind := EventDead
	if n.State == memberlist.StateLeft {
		kind = EventLeave
	}
	d.c.observe(n, kind)
}

// reject counts a refused member and logs it, at most once a minute per node name, since
// gossip repeats the same alive message many times.
func (c *Cluster) reject(n *memberlist.Node, err error) {
	c.rejected.Add(1)
	c.rejMu.Lock()
	last, seen := c.rejLogged[n.Name]
	now := time.Now()
	logIt := !seen || now.Sub(last) > time.Minute
	if logIt {
		if len(c.rejLogged) > 1024 {
			clear(c.rejLogged)
		}
		c.rejLogged[n.Name] = now
	}
	c.rejMu.Unlock()
	if logIt {
		c.log.Warn("refused member with invalid metadata", "member", n.Name, "addr", n.Address(), "err", err)
	}
}

// observe applies a membership change to the member table and tells subscribers.
// Changes about this member itself update nothing (Self is authoritative) and are not
// published.
func (c *Cluster) observe(n *memberlist.Node, kind EventKind) {
	m, err := decodeMeta(n.Name, n.Meta)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if kind == EventLeave || kind == EventDead {
		if at, ok := c.leaving[n.Name]; ok {
			delete(c.leaving, n.Name)
			if time.Since(at) < leaveNoticeTTL {
				kind = EventLeave
			}
		}
		if old, ok := c.members[n.Name]; ok {
			m, err = old, nil
		}
		delete(c.members, n.Name)
	} else if err == nil {
		c.members[n.Name] = m
	}
	if err != nil { // the door (NotifyAlive) makes this unreachable for joins and updates
		c.log.Warn("membership event with invalid metadata", "member", n.Name, "kind", kind.String(), "err", err)
		if kind == EventJoin || kind == EventUpdate {
			return
		}
		m = Meta{NodeID: n.Name}
	}
	if n.Name == c.self.NodeID {
		return
	}
	if kind == EventDead {
		c.failed[n.Name] = failedMember{addr: n.Address(), at: time.Now()}
	} else {
		delete(c.failed, n.Name)
	}
	if kind == EventDead || kind == EventLeave {
		delete(c.addrs, n.Name)
	} else {
		c.addrs[n.Name] = n.Address()
	}
	if kind == EventDead || kind == EventLeave {
		for k, at := range c.gone { // bounded: prune what Gone no longer reports
			if time.Since(at) > goneMemory {
				delete(c.gone, k)
			}
		}
		c.gone[n.Name] = time.Now()
	} else {
		delete(c.gone, n.Name)
	}
	c.publishLocked(Event{Kind: kind, Member: m})
}

// leaveNotice prefixes the user message a member sends to the others just before its
// graceful Leave, followed by its NodeID.
var leaveNotice = []byte("atrium-leave:")

// leaveNoticeTTL is how long a leave notice makes the member's departure count as a Leave.
const leaveNoticeTTL = 30 * time.Second

func (c *Cluster) noteLeaving(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	for k, at := range c.leaving { // bounded by the cluster size; prune stale notices
		if now.Sub(at) > leaveNoticeTTL {
			delete(c.leaving, k)
		}
	}
	c.leaving[id] = now
}
