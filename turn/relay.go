package turn

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	pionturn "github.com/pion/turn/v5"
	"golang.org/x/time/rate"
)

// ErrTCPRelayUnsupported refuses RFC 6062 TCP allocations: WebRTC relays media over UDP
// allocations only (whatever the client-to-relay transport), and a TCP relay would let clients
// open TCP connections to arbitrary services. Clients see 508 (Insufficient Capacity).
var ErrTCPRelayUnsupported = errors.New("turn: TCP relay allocations (RFC 6062) are not offered")

// relayGenerator creates the relay sockets of one listener's allocations. It wraps pion's
// address generator with what Atrium adds per allocation: the quota slot (taken here, given
// back when the socket closes), the bandwidth cap and metrics.
type relayGenerator struct {
	inner pionturn.RelayAddressGenerator
	// reserve takes a quota slot for a user (counting a refusal); release gives it back.
	reserve   func(user string) error
	release   func(user string)
	metrics   *transportMetrics
	bandwidth rate.Limit // bytes/s; 0 = unlimited
	burst     int
}

func (g *relayGenerator) Validate() error { return g.inner.Validate() }

// AllocatePacketConn takes the user's quota slot and creates the relay socket, which owns the
// slot from then on. The quota handler already answered 486 for a full quota; a slot lost to a
// concurrent Allocate of the same user between the two is refused here (pion answers 508).
func (g *relayGenerator) AllocatePacketConn(conf pionturn.AllocateListenerConfig) (net.PacketConn, net.Addr, error) {
	if err := g.reserve(conf.UserID); err != nil {
		return nil, nil, err
	}
	conn, addr, err := g.inner.AllocatePacketConn(conf)
	if err != nil {
		g.release(conf.UserID)
		return nil, nil, fmt.Errorf("turn: relay socket for %s: %w", conf.Network, err)
	}
	rc := &relayConn{PacketConn: conn, m: g.metrics}
	if g.bandwidth > 0 {
		rc.limiter = rate.NewLimiter(g.bandwidth, g.burst)
	}
	user := conf.UserID
	rc.release = func() {
		g.release(user)
		g.metrics.allocations.Dec()
	}
	g.metrics.allocations.Inc()
	g.metrics.created.Inc()
	return rc, addr, nil
}

// AllocateListener refuses TCP allocations.
func (g *relayGenerator) AllocateListener(pionturn.AllocateListenerConfig) (net.Listener, net.Addr, error) {
	return nil, nil, ErrTCPRelayUnsupported
}

// AllocateConn is never reached (no TCP allocation exists) but refuses anyway.
func (g *relayGenerator) AllocateConn(pionturn.AllocateConnConfig) (net.Conn, error) {
	return nil, ErrTCPRelayUnsupported
}

// relayConn is the relay socket of one allocation: pion writes client data to peers through
// WriteTo and reads peer data through ReadFrom, one goroutine each way. It counts what passes
// and drops what exceeds the allocation's bandwidth (one token bucket for both directions).
type relayConn struct {
	net.PacketConn
	m       *transportMetrics
	limiter *rate.Limiter // nil = unlimited

	closeOnce sync.Once
	release   func()
}

// ReadFrom returns the next datagram from a peer that fits the bandwidth cap. Datagrams from
// addresses without a permission are counted too (pion discards them after this returns).
func (c *relayConn) ReadFrom(p []byte) (int, net.Addr, error) {
	for {
		n, addr, err := c.PacketConn.ReadFrom(p)
		if err != nil {
			return n, addr, err
		}
		if c.limiter != nil && !c.limiter.AllowN(time.Now(), n) {
			c.m.droppedBandwidth.Inc()
			continue
		}
		c.m.fromPeerPackets.Inc()
		c.m.fromPeerBytes.Add(float64(n))
		return n, addr, nil
	}
}

// WriteTo sends p to a peer, or silently drops it when over the bandwidth cap (reporting
// success, like a lossy network, so pion does not log an error per packet).
func (c *relayConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.limiter != nil && !c.limiter.AllowN(time.Now(), len(p)) {
		c.m.droppedBandwidth.Inc()
		return len(p), nil
	}
	// Counted before the write so the count never lags what a peer has seen.
	c.m.toPeerPackets.Inc()
	c.m.toPeerBytes.Add(float64(len(p)))
	return c.PacketConn.WriteTo(p, addr)
}

// Close closes the socket and gives back the allocation's quota slot, once.
func (c *relayConn) Close() error {
	c.closeOnce.Do(c.release)
	return c.PacketConn.Close()
}
