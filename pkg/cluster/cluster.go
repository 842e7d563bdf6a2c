// Package cluster is the gossip membership that SFU nodes and signal gateways share.
//
// Each member announces a Meta (id, role, signal URL, media addresses, serving or
// draining, load) through hashicorp/memberlist's node metadata. Members whose metadata
// is invalid are refused at the door (memberlist's Alive and Merge delegates), so what
// Members returns is always well-formed. With Config.SecretKey set, gossip is encrypted
// and a member without the key can neither join nor inject metadata.
//
// A Cluster is safe for concurrent use. It never blocks memberlist: event subscribers
// that fall behind lose events (counted in Stats) rather than stall gossip.
//
// This package may be imported by any service; it imports nothing of Atrium's.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/memberlist"
)

// Cluster is this process's membership in the gossip cluster.
type Cluster struct {
	cfg Config
	log *slog.Logger
	ml  *memberlist.Memberlist

	mu        sync.RWMutex
	self      Meta
	selfBytes []byte
	members   map[string]Meta // alive (or suspect) members, self included
	subs      map[*subscriber]struct{}
	leaving   map[string]time.Time    // leave notices received, by NodeID
	failed    map[string]failedMember // members declared dead, to reconnect to
	gone      map[string]time.Time    // members declared dead or left, by NodeID, until seen alive again
	addrs     map[string]string       // live members' gossip addresses, by NodeID (for the seed keeper)
	addr      string                  // own gossip address, fixed at creation
	closed    bool

	kick   chan struct{}   // a prompt re-broadcast of own meta is wanted
	done   chan struct{}   // closed on Leave/Shutdown
	bg     context.Context // cancelled on Leave/Shutdown: background joins give up
	stopBg context.CancelFunc
	wg     sync.WaitGroup
	stopMu sync.Mutex // serialises Leave and Shutdown

	rejected atomic.Uint64
	dropped  atomic.Uint64

	rejMu     sync.Mutex
	rejLogged map[string]time.Time
}

// Stats are counters for what the cluster refused or lost.
type Stats struct {
	Rejected      uint64 // alive/merge messages refused for invalid metadata
	DroppedEvents uint64 // events not delivered because a subscriber's buffer was full
}

// Join creates the local member with meta and joins Config.Seeds and Config.SeedDNS. An
// empty seed list starts a new cluster. If no seed answers, Join still returns the
// Cluster and keeps retrying in the background (until some member is reached, or
// Leave/Shutdown), so nodes may start in any order. meta.NodeID may be left empty (it is
// set to cfg.NodeID); otherwise it must equal cfg.NodeID.
func Join(ctx context.Context, cfg Config, meta Meta) (*Cluster, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if meta.NodeID == "" {
		meta.NodeID = cfg.NodeID
	}
	if meta.NodeID != cfg.NodeID {
		return nil, fmt.Errorf("%w: meta NodeID %q differs from config NodeID %q", ErrInvalidMeta, meta.NodeID, cfg.NodeID)
	}
	if meta.State == "" {
		meta.State = StateServing
	}
	meta = meta.clone()
	b, err := encodeMeta(meta)
	if err != nil {
		return nil, err
	}
	c := &Cluster{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "cluster", "node", cfg.NodeID),
		self:      meta,
		selfBytes: b,
		members:   make(map[string]Meta),
		subs:      make(map[*subscriber]struct{}),
		leaving:   make(map[string]time.Time),
		failed:    make(map[string]failedMember),
		gone:      make(map[string]time.Time),
		addrs:     make(map[string]string),
		kick:      make(chan struct{}, 1),
		done:      make(chan struct{}),
		rejLogged: make(map[string]time.Time),
	}
	c.bg, c.stopBg = context.WithCancel(context.Background())
	mc := cfg.memberlistConfig()
	d := &delegates{c: c}
	mc.Delegate, mc.Events, mc.Alive, mc.Merge = d, d, d, d
	ml, err := memberlist.Create(mc)
	if err != nil {
		c.stopBg()
		return nil, fmt.Errorf("cluster: create member %q: %w", cfg.NodeID, err)
	}
	c.ml = ml
	// Read once, now: the local node is rewritten by every UpdateNode, so reading it later
	// races with the broadcaster (and the address never changes).
	c.addr = ml.LocalNode().Address()

	if n, err := c.joinOnce(ctx); err != nil && ctx.Err() != nil {
		c.stopBg()
		_ = ml.Shutdown()
		return nil, fmt.Errorf("cluster: join: %w", ctx.Err())
	} else if n == 0 && c.hasSeeds() {
		c.log.Warn("no seed answered; retrying in the background", "err", err)
	}
	if c.hasSeeds() {
		c.wg.Add(1)
		go c.retryJoin()
	}
	c.wg.Add(2)
	go c.broadcaster()
	go c.reconnector()
	return c, nil
}

func (c *Cluster) hasSeeds() bool { return len(c.cfg.Seeds) > 0 || c.cfg.SeedDNS != "" }

// seeds returns the addresses to join, without this member's own address.
func (c *Cluster) seeds(ctx context.Context) ([]string, error) {
	self := c.Addr()
	var out []string
	add := func(a string) {
		if a != self && !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	for _, s := range c.cfg.Seeds {
		add(s)
	}
	if c.cfg.SeedDNS != "" {
		hosts, err := net.DefaultResolver.LookupHost(ctx, c.cfg.SeedDNS)
		if err != nil {
			return out, fmt.Errorf("cluster: resolve SeedDNS %q: %w", c.cfg.SeedDNS, err)
		}
		for _, h := range hosts {
			add(net.JoinHostPort(h, strconv.Itoa(c.cfg.SeedPort)))
		}
	}
	return out, nil
}

// joinOnce tries every seed once and returns how many answered. It gives up waiting when
// ctx ends (memberlist's join itself is bounded by its TCP timeout).
func (c *Cluster) joinOnce(ctx context.Context) (int, error) {
	if !c.hasSeeds() {
		return 0, nil
	}
	seeds, err := c.seeds(ctx)
	if len(seeds) == 0 {
		if err == nil {
			err = errors.New("cluster: no seed other than self")
		}
		return 0, err
	}
	return c.join(ctx, seeds)
}

// join joins addrs, giving up waiting when ctx ends (memberlist's join itself is bounded
// by its TCP timeout and finishes in the background).
func (c *Cluster) join(ctx context.Context, seeds []string) (int, error) {
	type result struct {
		n   int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		n, err := c.ml.Join(seeds)
		ch <- result{n, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			r.err = fmt.Errorf("cluster: join %v: %w", seeds, r.err)
		}
		return r.n, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// retryJoin keeps the seeds joined for the member's whole life. At first it retries with
// capped, jittered backoff until some seed answers; then it keeps checking, every maxDelay,
// for seeds that are not live members and joins them. Without that, nodes started at the
// same time can form two clusters that never merge (each joined "someone", nobody joined
// the first node), and a seed restarted after a crash would stay outside.
func (c *Cluster) retryJoin() {
	defer c.wg.Done()
	delay, maxDelay := time.Second, 30*time.Second
	if c.cfg.Preset == PresetLocal {
		delay, maxDelay = 100*time.Millisecond, time.Second
	}
	for {
		jitter := time.Duration(rand.Int64N(int64(delay)/2 + 1))
		select {
		case <-c.done:
			return
		case <-time.After(delay/2 + jitter):
		}
		missing, err := c.missingSeeds(c.bg)
		if err != nil {
			c.log.Debug("seed lookup failed", "err", err)
		}
		if len(missing) == 0 {
			delay = maxDelay
			continue
		}
		n, err := c.join(c.bg, missing)
		if n > 0 {
			c.log.Info("joined seeds", "seeds_answered", n, "seeds_tried", len(missing))
			delay = maxDelay
			continue
		}
		c.log.Debug("join retry failed", "err", err)
		delay = min(delay*2, maxDelay)
	}
}

// missingSeeds lists seed addresses that are not live members.
func (c *Cluster) missingSeeds(ctx context.Context) ([]string, error) {
	seeds, err := c.seeds(ctx)
	// memberlist's own Members() hands out nodes it keeps mutating: read the addresses the
	// delegates recorded instead.
	live := map[string]bool{}
	c.mu.RLock()
	for _, a := range c.addrs {
		live[a] = true
	}
	c.mu.RUnlock()
	var out []string
	for _, s := range seeds {
		if !live[s] {
			out = append(out, s)
		}
	}
	return out, err
}

// broadcaster re-announces own meta promptly after Update (coalescing bursts) and at
// least every RefreshInterval.
func (c *Cluster) broadcaster() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-c.kick:
		case <-t.C:
		}
		// UpdateNode waits until the message went to one member or the timeout passes; the
		// message stays queued either way, so a short wait keeps Leave/Shutdown quick.
		if err := c.ml.UpdateNode(250 * time.Millisecond); err != nil {
			c.log.Debug("meta broadcast", "err", err)
		}
	}
}

// Self returns this member's current metadata.
func (c *Cluster) Self() Meta {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.self.clone()
}

// Members returns the alive members (suspected ones included until declared dead), self
// included, sorted by NodeID.
func (c *Cluster) Members() []Meta {
	c.mu.RLock()
	out := make([]Meta, 0, len(c.members)+1)
	for id, m := range c.members {
		if id != c.self.NodeID {
			out = append(out, m.clone())
		}
	}
	if !c.closed {
		out = append(out, c.self.clone())
	}
	c.mu.RUnlock()
	slices.SortFunc(out, func(a, b Meta) int {
		switch {
		case a.NodeID < b.NodeID:
			return -1
		case a.NodeID > b.NodeID:
			return 1
		}
		return 0
	})
	return out
}

// goneMemory bounds how long a departed member is remembered by Gone. A room lease outlives
// its owner by its TTL (seconds), so an hour is far more than any lease needs.
const goneMemory = time.Hour

// Gone reports whether id was a member that gossip declared dead, or that left, and has not
// been seen alive since. A member never seen at all is not gone: it may have just joined
// and not reached this member yet, so a room leased to it must not be taken over.
func (c *Cluster) Gone(id string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	at, ok := c.gone[id]
	return ok && time.Since(at) < goneMemory
}

// Member returns the metadata of alive member id.
func (c *Cluster) Member(id string) (Meta, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if id == c.self.NodeID && !c.closed {
		return c.self.clone(), true
	}
	m, ok := c.members[id]
	return m.clone(), ok
}

// Alive reports whether id is an alive member (self included until Leave/Shutdown).
func (c *Cluster) Alive(id string) bool {
	_, ok := c.Member(id)
	return ok
}

// Update changes this member's metadata through fn and gossips it promptly. fn must not
// block. A change that makes the metadata invalid (see TryUpdate) is logged and dropped,
// keeping the previous metadata.
func (c *Cluster) Update(fn func(m *Meta)) {
	if err := c.TryUpdate(fn); err != nil {
		c.log.Error("meta update refused", "err", err)
	}
}

// TryUpdate is Update that returns why a change was refused: invalid metadata, a changed
// NodeID, or an encoding over MaxMetaSize. A refused change leaves the metadata as it was.
func (c *Cluster) TryUpdate(fn func(m *Meta)) error {
	c.mu.Lock()
	m := c.self.clone()
	fn(&m)
	if m.NodeID != c.self.NodeID {
		c.mu.Unlock()
		return fmt.Errorf("%w: NodeID may not change (%q to %q)", ErrInvalidMeta, c.self.NodeID, m.NodeID)
	}
	if m.State == "" {
		m.State = StateServing
	}
	b, err := encodeMeta(m)
	if err != nil {
		c.mu.Unlock()
		return err
	}
	c.self, c.selfBytes = m.clone(), b
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default: // a broadcast is already pending; it will carry this change
	}
	return nil
}

// Addr is the gossip host:port other members reach this one at: the advertised address,
// with the port memberlist bound when Config.BindPort was 0.
func (c *Cluster) Addr() string { return c.addr }

// Stats returns the refusal and drop counters.
func (c *Cluster) Stats() Stats {
	return Stats{Rejected: c.rejected.Load(), DroppedEvents: c.dropped.Load()}
}

// Leave announces a graceful departure (others see EventLeave), waits for the
// announcement to go out (until ctx ends, at most 5 s without a deadline), then shuts
// down. Calling it again, or after Shutdown, returns nil.
func (c *Cluster) Leave(ctx context.Context) error {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	if c.isClosed() {
		return nil
	}
	deadline := time.Now().Add(5 * time.Second)
	if dl, ok := ctx.Deadline(); ok {
		deadline = dl
	}
	var leaveErr error
	if time.Until(deadline) <= 0 {
		leaveErr = fmt.Errorf("cluster: leave: %w", context.DeadlineExceeded)
	} else {
		c.announceLeave(min(time.Until(deadline)/2, time.Second))
		if err := c.ml.Leave(time.Until(deadline)); err != nil {
			leaveErr = fmt.Errorf("cluster: leave: %w", err)
		}
	}
	if err := c.stop(); err != nil {
		return errors.Join(leaveErr, err)
	}
	return leaveErr
}

// announceLeave tells every other member, over TCP, that this member is leaving on
// purpose, so that they report its coming departure as EventLeave rather than EventDead.
// memberlist's own leave message does not let the receiver tell the two apart. It waits
// at most timeout; a member that misses the notice reports EventDead, which is safe.
func (c *Cluster) announceLeave(timeout time.Duration) {
	msg := append(slices.Clone(leaveNotice), c.cfg.NodeID...)
	// Copies built from the addresses the delegates recorded: memberlist's Members() hands
	// out nodes it keeps rewriting (a data race under load).
	var peers []*memberlist.Node
	c.mu.RLock()
	for id, a := range c.addrs {
		host, port, err := net.SplitHostPort(a)
		p, perr := strconv.Atoi(port)
		if err != nil || perr != nil || id == c.cfg.NodeID {
			continue
		}
		peers = append(peers, &memberlist.Node{Name: id, Addr: net.ParseIP(host), Port: uint16(p)})
	}
	c.mu.RUnlock()
	var wg sync.WaitGroup
	for _, n := range peers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.ml.SendReliable(n, msg); err != nil {
				c.log.Debug("leave notice not delivered", "member", n.Name, "err", err)
			}
		}()
	}
	sent := make(chan struct{})
	go func() { wg.Wait(); close(sent) }()
	select {
	case <-sent:
		// The notices are written; give the receivers a moment to read them before the
		// leave message itself (UDP gossip) can overtake them.
		time.Sleep(50 * time.Millisecond)
	case <-time.After(timeout):
	}
}

// Shutdown stops gossip without saying goodbye: the others detect a failure and see
// EventDead. It is what a crash looks like (tests use it to simulate kill -9).
// Calling it again, or after Leave, returns nil.
func (c *Cluster) Shutdown() error {
	c.stopMu.Lock()
	defer c.stopMu.Unlock()
	if c.isClosed() {
		return nil
	}
	return c.stop()
}

func (c *Cluster) isClosed() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.closed
}

// stop shuts memberlist down, waits for this package's goroutines and closes every
// subscription. stopMu is held.
func (c *Cluster) stop() error {
	close(c.done)
	c.stopBg()
	err := c.ml.Shutdown()
	c.wg.Wait()
	c.mu.Lock()
	c.closed = true
	for s := range c.subs {
		delete(c.subs, s)
		close(s.ch)
	}
	clear(c.members)
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("cluster: shutdown: %w", err)
	}
	return nil
}
