package cluster

import "strconv"

// EventKind is what happened to a member.
type EventKind int

// Event kinds. EventLeave is a graceful departure (the member called Leave); EventDead is
// a failure detected by probing (crash, kill -9, partition).
const (
	EventJoin EventKind = iota + 1
	EventUpdate
	EventLeave
	EventDead
)

func (k EventKind) String() string {
	switch k {
	case EventJoin:
		return "join"
	case EventUpdate:
		return "update"
	case EventLeave:
		return "leave"
	case EventDead:
		return "dead"
	}
	return "EventKind(" + strconv.Itoa(int(k)) + ")"
}

// Event is a change to another member. Member is its metadata after a join or update,
// and its last known metadata after a leave or death.
type Event struct {
	Kind   EventKind
	Member Meta
}

// subscriberBuffer is how many events a subscriber may fall behind before losing some.
const subscriberBuffer = 256

type subscriber struct{ ch chan Event }

// Subscribe returns a channel of events about other members and a function that ends
// the subscription (and closes the channel; safe to call more than once). Events are
// never waited for: when a subscriber's buffer is full the event is dropped and counted
// in Stats().DroppedEvents. The channel is also closed by Leave and Shutdown.
func (c *Cluster) Subscribe() (<-chan Event, func()) {
	s := &subscriber{ch: make(chan Event, subscriberBuffer)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		close(s.ch)
		return s.ch, func() {}
	}
	c.subs[s] = struct{}{}
	return s.ch, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if _, ok := c.subs[s]; ok {
			delete(c.subs, s)
			close(s.ch)
		}
	}
}

// publishLocked hands ev to every subscriber without blocking. c.mu is held.
func (c *Cluster) publishLocked(ev Event) {
	for s := range c.subs {
		e := ev
		e.Member = ev.Member.clone()
		select {
		case s.ch <- e:
		default:
			c.dropped.Add(1)
		}
	}
}
