package leansub

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

// Hub is one UDP socket shared by many lean subscribers of a loopback server: each
// subscriber gets an address of its own in 127.1.0.0/16 on the hub's port, so the server
// still tells them apart, and one goroutine reads every subscriber's media in batches of
// up to 64 datagrams per system call (recvmmsg), demultiplexed by destination address.
// That is what lets one tester core receive for several hundred subscribers: per packet,
// one share of a system call and one decryption, no goroutine switch.
type Hub struct {
	conn *net.UDPConn
	pc   *ipv4.PacketConn
	port uint16

	mu   sync.Mutex
	subs atomic.Pointer[map[netip.Addr]*Subscriber] // copy-on-write under mu
	next uint32
	wg   sync.WaitGroup
}

// hubBatch is the number of datagrams one read may return.
const hubBatch = 64

// NewHub opens the shared socket (all local addresses, an ephemeral port; datagrams for
// other than a subscriber's address are dropped) and starts its reader.
func NewHub() (*Hub, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4zero})
	if err != nil {
		return nil, fmt.Errorf("leansub: hub socket: %w", err)
	}
	_ = c.SetReadBuffer(8 << 20)
	h := &Hub{conn: c, pc: ipv4.NewPacketConn(c), port: uint16(c.LocalAddr().(*net.UDPAddr).Port)}
	if err := h.pc.SetControlMessage(ipv4.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("leansub: hub: destination addresses: %w", err)
	}
	empty := map[netip.Addr]*Subscriber{}
	h.subs.Store(&empty)
	h.wg.Add(1)
	go h.read()
	return h, nil
}

// add gives s an address of its own.
func (h *Hub) add(s *Subscriber) (netip.AddrPort, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.next >= 1<<16-2 {
		return netip.AddrPort{}, errors.New("leansub: hub: out of addresses")
	}
	h.next++
	ip := netip.AddrFrom4([4]byte{127, 1, byte(h.next >> 8), byte(h.next)})
	next := make(map[netip.Addr]*Subscriber, len(*h.subs.Load())+1)
	for k, v := range *h.subs.Load() {
		next[k] = v
	}
	// s.local is set before the map holding s is published: the hub's reader may hand s a
	// packet (and s answer from s.local) the moment it is visible (a data race under -race).
	s.local = netip.AddrPortFrom(ip, h.port)
	next[ip] = s
	h.subs.Store(&next)
	return s.local, nil
}

func (h *Hub) remove(s *Subscriber) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur := *h.subs.Load()
	if cur[s.local.Addr()] != s {
		return
	}
	next := make(map[netip.Addr]*Subscriber, len(cur))
	for k, v := range cur {
		if v != s {
			next[k] = v
		}
	}
	h.subs.Store(&next)
}

// write sends b from src (a subscriber's address) to dst.
func (h *Hub) write(b []byte, src netip.Addr, dst netip.AddrPort) (int, error) {
	return h.pc.WriteTo(b, &ipv4.ControlMessage{Src: src.AsSlice()}, net.UDPAddrFromAddrPort(dst))
}

func (h *Hub) read() {
	defer h.wg.Done()
	msgs := make([]ipv4.Message, hubBatch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
		msgs[i].OOB = ipv4.NewControlMessage(ipv4.FlagDst)
	}
	var cm ipv4.ControlMessage
	for {
		n, err := h.pc.ReadBatch(msgs, 0)
		if err != nil {
			return // closed
		}
		now := time.Now()
		subs := *h.subs.Load()
		for i := 0; i < n; i++ {
			m := &msgs[i]
			if cm.Parse(m.OOB[:m.NN]) != nil || cm.Dst == nil {
				continue
			}
			dst, ok := netip.AddrFromSlice(cm.Dst)
			if !ok {
				continue
			}
			s := subs[dst.Unmap()]
			if s == nil {
				continue
			}
			var from netip.AddrPort
			if ua, ok := m.Addr.(*net.UDPAddr); ok {
				from = ua.AddrPort()
			}
			s.handle(m.Buffers[0][:m.N], from, now)
		}
	}
}

// Close stops the reader and closes the socket (after the subscribers closed).
func (h *Hub) Close() error {
	err := h.conn.Close()
	h.wg.Wait()
	return err
}
