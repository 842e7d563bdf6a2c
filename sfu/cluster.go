package sfu

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/placement"
)

// node is the SFU's place in the cluster: its gossip membership (or a directory of one when
// clustering is off), the room leases, and the placer that routes /rtc and Twirp calls. It
// renews the leases of the rooms this node runs, gives up the rooms whose lease it lost,
// releases the leases of members gossip declares dead, and publishes the node's load.
type node struct {
	s       *Server
	self    string
	members directory
	gossip  *cluster.Cluster // nil when clustering is off; set once by start, read under mu
	leases  placement.Leases
	placer  *placement.Placer
	// closeLeases closes the store this node opened (a no-op for an injected one).
	closeLeases func() error

	stop chan struct{}
	wg   sync.WaitGroup

	cpuTime func() time.Duration // process CPU time; processCPU unless Deps.CPUTime

	mu        sync.Mutex
	lastCPU   time.Duration
	lastPkts  float64
	lastStamp time.Time
}

// directory is what routing needs from membership.
type directory interface {
	Members() []cluster.Meta
	Member(id string) (cluster.Meta, bool)
	Alive(id string) bool
}

// soloDirectory is a cluster of one: the node itself.
type soloDirectory struct{ self func() cluster.Meta }

func (d soloDirectory) Members() []cluster.Meta { return []cluster.Meta{d.self()} }
func (d soloDirectory) Member(id string) (cluster.Meta, bool) {
	m := d.self()
	return m, id == m.NodeID
}
func (d soloDirectory) Alive(id string) bool { return id == d.self().NodeID }

// newNode builds the node's membership and placement; gossip is joined by start.
func newNode(s *Server, leases placement.Leases) (*node, error) {
	n := &node{s: s, self: s.cfg.NodeID, leases: leases, stop: make(chan struct{}), closeLeases: func() error { return nil }, cpuTime: processCPU}
	if n.leases == nil {
		n.leases, n.closeLeases = s.cfg.Placement.Open()
	}
	return n, nil
}

// signalURL is the base URL other members reach this node's /rtc at.
func (n *node) signalURL() string { return n.s.cfg.Cluster.SignalURLFor(n.s.Addr()) }

func (n *node) meta() cluster.Meta {
	m := cluster.Meta{
		NodeID: n.self, Role: cluster.RoleSFU, SignalURL: n.signalURL(),
		State: cluster.StateServing, Version: atriumVersion(),
	}
	if a := n.s.ICEUDPAddr(); a != nil {
		m.MediaAddrs = []string{a.String()}
	}
	if n.s.relay != nil {
		m.RelayAddr = n.s.relay.addr
	}
	if n.s.draining.Load() {
		m.State = cluster.StateDraining
	}
	m.Load = n.load()
	return m
}

// start joins gossip (when enabled) and starts the lease and load loops.
func (n *node) start(ctx context.Context) error {
	cc := n.s.cfg.Cluster
	if cc.Enabled {
		cfg, err := cc.GossipConfig(n.self, n.s.log.With("component", "gossip"))
		if err != nil {
			return err
		}
		g, err := cluster.Join(ctx, cfg, n.meta())
		if err != nil {
			return fmt.Errorf("sfu: join cluster: %w", err)
		}
		n.mu.Lock()
		n.gossip, n.members = g, g
		n.mu.Unlock()
		events, unsubscribe := g.Subscribe()
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			defer unsubscribe()
			n.watchMembers(events)
		}()
	} else {
		n.mu.Lock()
		n.members = soloDirectory{self: n.meta}
		n.mu.Unlock()
	}
	fallback := ""
	if n.s.cfg.Placement.FallbackLocal {
		fallback = n.self
	}
	placer := placement.NewPlacer(placement.PlacerConfig{
		Leases: n.leases, Members: n.directory(), TTL: n.s.cfg.Placement.LeaseTTL,
		LocalFallback: fallback, Rand: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		Logger: n.s.log.With("component", "placement"),
	})
	n.mu.Lock()
	n.placer = placer
	n.mu.Unlock()
	n.wg.Add(2)
	go n.renewLoop()
	go n.loadLoop()
	return nil
}

// watchMembers releases the leases of members that died, so their rooms are placed again
// at once instead of after the lease TTL. Every member does it; it is idempotent.
func (n *node) watchMembers(events <-chan cluster.Event) {
	for {
		select {
		case <-n.stop:
			return
		case ev, ok := <-events:
			if !ok {
				return
			}
			if ev.Kind != cluster.EventDead || ev.Member.Role != cluster.RoleSFU {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			released, err := n.leases.ReleaseAll(ctx, ev.Member.NodeID)
			cancel()
			n.s.log.Warn("cluster member dead", "node", ev.Member.NodeID, "leases_released", released, "err", err)
			if n.s.relay != nil {
				n.s.relay.peerDown(ev.Member.NodeID)
			}
		}
	}
}

// renewLoop renews the leases of this node's rooms every third of the TTL.
func (n *node) renewLoop() {
	defer n.wg.Done()
	ttl := n.s.cfg.Placement.LeaseTTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.renewAll(ttl)
		}
	}
}

// renewAll renews each room's lease. A lease found missing (expired during a Redis outage,
// or Redis restarted empty) is taken again; a lease another node now holds means this node
// lost the room, and its participants are sent to the owner. Store errors change nothing:
// running rooms never depend on Redis.
func (n *node) renewAll(ttl time.Duration) {
	for _, r := range n.s.rooms.all() {
		if r.span.isRelay() {
			continue // the origin holds the lease of a room this node relays
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		ok, err := n.leases.Renew(ctx, r.name, n.self, ttl)
		if err == nil && !ok {
			var owner string
			owner, err = n.leases.Acquire(ctx, r.name, n.self, ttl)
			if err == nil && owner != n.self {
				n.s.log.Warn("room lease lost to another node; moving participants", "room", r.name, "owner", owner)
				go r.move()
			}
		}
		cancel()
		if err != nil {
			n.s.metrics.leaseErrors.Inc()
			n.s.log.Debug("lease renewal failed", "room", r.name, "err", err)
		}
	}
}

// release gives up this node's lease on room (room closed or moved).
func (n *node) release(room string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := n.leases.Release(ctx, room, n.self); err != nil {
		n.s.metrics.leaseErrors.Inc()
		n.s.log.Info("lease release failed (it will expire)", "room", room, "err", err)
	}
}

// loadLoop refreshes the node's gossip metadata.
func (n *node) loadLoop() {
	defer n.wg.Done()
	t := time.NewTicker(n.s.cfg.Cluster.LoadInterval)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
			n.publish()
		}
	}
}

func (n *node) gossipCluster() *cluster.Cluster {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.gossip
}

// publish pushes the current state and load into gossip now.
func (n *node) publish() {
	g := n.gossipCluster()
	if g == nil {
		return
	}
	m := n.meta()
	g.Update(func(cur *cluster.Meta) {
		cur.State = m.State
		cur.Load = m.Load
	})
}

// load measures the node: rooms, participants, tracks, forwarded packets per second and CPU
// as a fraction of the cores the process may use.
func (n *node) load() cluster.Load {
	rooms := n.s.rooms.all()
	l := cluster.Load{Rooms: len(rooms), MaxParticipants: n.s.cfg.Cluster.MaxParticipants}
	for _, r := range rooms {
		for _, p := range r.snapshot() {
			l.Participants++
			l.Tracks += len(p.publishedTracks())
		}
	}
	now := time.Now()
	cpu := n.cpuTime()
	pkts := counterValue(n.s.mediaMetrics.PacketsOut)
	n.mu.Lock()
	if !n.lastStamp.IsZero() {
		wall := now.Sub(n.lastStamp).Seconds()
		if wall > 0 {
			l.CPU = (cpu - n.lastCPU).Seconds() / wall / float64(runtime.GOMAXPROCS(0))
			l.PacketsPerSec = (pkts - n.lastPkts) / wall
		}
	}
	n.lastCPU, n.lastPkts, n.lastStamp = cpu, pkts, now
	n.mu.Unlock()
	if l.CPU > 1 {
		l.CPU = 1
	}
	if l.CPU < 0 {
		l.CPU = 0
	}
	return l
}

func (n *node) close() {
	select {
	case <-n.stop:
		return
	default:
	}
	close(n.stop)
	n.wg.Wait()
	if g := n.gossipCluster(); g != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		if err := g.Leave(ctx); err != nil {
			n.s.log.Info("gossip leave", "err", err)
		}
		cancel()
	}
	_ = n.closeLeases()
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func counterValue(c prometheus.Counter) float64 {
	var m dto.Metric
	if c == nil || c.Write(&m) != nil || m.Counter == nil {
		return 0
	}
	return m.Counter.GetValue()
}

// move sends every participant of r to reconnect (they land on the room's new node through
// the router) and forgets the room here without reporting it finished: the class goes on
// elsewhere.
func (r *room) move() {
	r.mu.Lock()
	r.moved = true
	r.mu.Unlock()
	r.closeWith(livekit.DisconnectReason_MIGRATION, livekit.LeaveRequest_RECONNECT)
}
