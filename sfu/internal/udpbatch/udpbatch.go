// Package udpbatch sends many UDP datagrams with one system call.
//
// An SFU writes each incoming packet to every subscriber, one sendto per
// subscriber: on loopback about a third of the SFU's CPU time is spent in
// that system call. Conn wraps the muxed ICE socket: writes made while a
// batch is open (Begin ... End, e.g. around one packet's fan-out) are copied
// into a preallocated queue and leave together in one sendmmsg(2) when the
// last open batch ends or the queue is full; writes made outside a batch go
// out at once, as before.
//
// Conn implements net.PacketConn and pion/ice's AddrPortReaderWriter, so
// pion's UDP mux keeps its allocation-free path: hand it to
// ice.NewUDPMuxDefault instead of the *net.UDPConn. Who may import it: the
// SFU's session layer (wiring) and media path (Begin/End).
package udpbatch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
)

// Params configures a Conn. Zero values take the defaults.
type Params struct {
	// MaxBatch is the number of datagrams queued before a flush (default
	// 64; the kernel takes at most 1024 per sendmmsg).
	MaxBatch int
	// MaxDatagram is the largest datagram batched (default 1500); larger
	// ones are sent at once, after the queue.
	MaxDatagram int
}

// Stats counts what a Conn sent.
type Stats struct {
	Batches   uint64 // sendmmsg calls
	Batched   uint64 // datagrams sent in them
	Direct    uint64 // datagrams sent alone (outside a batch)
	Errors    uint64 // datagrams a batch failed to send
	LastError error
}

// Conn is a *net.UDPConn whose writes can be batched. Safe for concurrent
// use. Errors of batched writes are not reported to the writer (the write
// already returned): they are counted in Stats, as a lost datagram would be.
type Conn struct {
	conn *net.UDPConn
	pc   *ipv4.PacketConn
	p    Params

	mu    sync.Mutex // guards the fields below; held during a flush
	depth int        // open batches
	n     int        // queued datagrams
	msgs  []ipv4.Message
	addrs []net.UDPAddr
	bufs  [][]byte

	batches, batched, direct, errs atomic.Uint64
	lastErr                        atomic.Pointer[error]
}

// New wraps c. Closing the Conn closes c.
func New(c *net.UDPConn, p Params) *Conn {
	if p.MaxBatch <= 0 || p.MaxBatch > 1024 {
		p.MaxBatch = 64
	}
	if p.MaxDatagram <= 0 {
		p.MaxDatagram = 1500
	}
	b := &Conn{
		conn:  c,
		pc:    ipv4.NewPacketConn(c),
		p:     p,
		msgs:  make([]ipv4.Message, p.MaxBatch),
		addrs: make([]net.UDPAddr, p.MaxBatch),
		bufs:  make([][]byte, p.MaxBatch),
	}
	for i := range b.msgs {
		b.bufs[i] = make([]byte, p.MaxDatagram)
		b.addrs[i].IP = make(net.IP, 16)
		b.msgs[i].Buffers = [][]byte{nil}
		b.msgs[i].Addr = &b.addrs[i]
	}
	return b
}

// Begin opens a batch: until the matching End, writes are queued. Batches
// nest (several goroutines may each have one open); the queue is flushed
// when the last one ends, or when it is full.
func (b *Conn) Begin() {
	b.mu.Lock()
	b.depth++
	b.mu.Unlock()
}

// End closes a batch opened by Begin, flushing the queue if it was the last.
func (b *Conn) End() {
	b.mu.Lock()
	if b.depth > 0 {
		b.depth--
	}
	if b.depth == 0 && b.n > 0 {
		b.flushLocked()
	}
	b.mu.Unlock()
}

// WriteToAddrPort sends p to addr, or queues a copy while a batch is open.
func (b *Conn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	b.mu.Lock()
	if b.depth == 0 || len(p) > b.p.MaxDatagram {
		if b.n > 0 { // keep the order of datagrams
			b.flushLocked()
		}
		b.mu.Unlock()
		b.direct.Add(1)
		return b.conn.WriteToUDPAddrPort(p, addr)
	}
	i := b.n
	m := &b.msgs[i]
	m.Buffers[0] = b.bufs[i][:copy(b.bufs[i], p)]
	a := &b.addrs[i]
	ip := addr.Addr().Unmap()
	if ip.Is4() {
		v := ip.As4()
		a.IP = a.IP[:4]
		copy(a.IP, v[:])
	} else {
		v := ip.As16()
		a.IP = a.IP[:16]
		copy(a.IP, v[:])
	}
	a.Port = int(addr.Port())
	a.Zone = ip.Zone()
	b.n++
	if b.n == len(b.msgs) {
		b.flushLocked()
	}
	b.mu.Unlock()
	return len(p), nil
}

// flushLocked sends the queue with as few sendmmsg calls as the kernel
// allows, skipping a datagram it refuses. b.mu is held.
func (b *Conn) flushLocked() {
	msgs := b.msgs[:b.n]
	b.n = 0
	for tries := 0; len(msgs) > 0 && tries < len(b.msgs)+1; tries++ {
		sent, err := b.pc.WriteBatch(msgs, 0)
		if sent > 0 {
			b.batches.Add(1)
			b.batched.Add(uint64(sent))
			msgs = msgs[sent:]
		}
		if err != nil {
			// The first unsent datagram failed (e.g. no route): drop it,
			// as the network would, and send the rest.
			b.errs.Add(1)
			e := fmt.Errorf("udpbatch: sendmmsg: %w", err)
			b.lastErr.Store(&e)
			if len(msgs) > 0 {
				msgs = msgs[1:]
			}
		}
	}
}

// Stats returns the counters.
func (b *Conn) Stats() Stats {
	s := Stats{Batches: b.batches.Load(), Batched: b.batched.Load(), Direct: b.direct.Load(), Errors: b.errs.Load()}
	if e := b.lastErr.Load(); e != nil {
		s.LastError = *e
	}
	return s
}

// ReadFromAddrPort reads one datagram (pion's allocation-free read path).
func (b *Conn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return b.conn.ReadFromUDPAddrPort(p)
}

// ReadFrom implements net.PacketConn.
func (b *Conn) ReadFrom(p []byte) (int, net.Addr, error) { return b.conn.ReadFrom(p) }

// WriteTo implements net.PacketConn; UDP addresses take the batched path.
func (b *Conn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if ua, ok := addr.(*net.UDPAddr); ok {
		return b.WriteToAddrPort(p, ua.AddrPort())
	}
	return 0, fmt.Errorf("udpbatch: write to %v: %w", addr, errNotUDP)
}

var errNotUDP = errors.New("not a UDP address")

// Close flushes what is queued and closes the socket.
func (b *Conn) Close() error {
	b.mu.Lock()
	if b.n > 0 {
		b.flushLocked()
	}
	b.mu.Unlock()
	return b.conn.Close()
}

// LocalAddr implements net.PacketConn.
func (b *Conn) LocalAddr() net.Addr { return b.conn.LocalAddr() }

// SetDeadline implements net.PacketConn.
func (b *Conn) SetDeadline(t time.Time) error { return b.conn.SetDeadline(t) }

// SetReadDeadline implements net.PacketConn.
func (b *Conn) SetReadDeadline(t time.Time) error { return b.conn.SetReadDeadline(t) }

// SetWriteDeadline implements net.PacketConn.
func (b *Conn) SetWriteDeadline(t time.Time) error { return b.conn.SetWriteDeadline(t) }

var _ net.PacketConn = (*Conn)(nil)
