package cluster

import (
	"math/rand/v2"
	"time"
)

// Why reconnect: memberlist gossips and pushes/pulls only with members it believes
// alive. After a network partition longer than the suspicion timeout, each side has
// declared the other dead and the two would stay apart for good once the partition
// heals. So, like Serf, each member keeps the address of every member that failed (not
// those that left) and now and then tries to join one of them again. A restarted member
// that comes back on the same address without seeds is found the same way.

// failedMember is a member declared dead, remembered for reconnection.
type failedMember struct {
	addr string
	at   time.Time
}

func (c *Cluster) reconnectTiming() (every, giveUp time.Duration) {
	if c.cfg.Preset == PresetLocal {
		return 500 * time.Millisecond, time.Minute
	}
	return 15 * time.Second, 6 * time.Hour
}

// reconnector tries, every interval, to join one randomly chosen failed member.
func (c *Cluster) reconnector() {
	defer c.wg.Done()
	every, giveUp := c.reconnectTiming()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
		}
		name, addr := c.pickFailed(giveUp)
		if addr == "" {
			continue
		}
		if n, err := c.join(c.bg, []string{addr}); n > 0 {
			c.log.Info("reconnected to a failed member", "member", name, "addr", addr)
		} else {
			c.log.Debug("reconnect to a failed member", "member", name, "addr", addr, "err", err)
		}
	}
}

// pickFailed forgets members failed longer than giveUp ago and returns a random one of
// the rest ("" if none).
func (c *Cluster) pickFailed(giveUp time.Duration) (name, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	i, k := 0, rand.IntN(len(c.failed)+1)
	for n, f := range c.failed {
		if now.Sub(f.at) > giveUp {
			delete(c.failed, n)
			continue
		}
		if i == k || name == "" {
			name, addr = n, f.addr
		}
		i++
	}
	return name, addr
}
