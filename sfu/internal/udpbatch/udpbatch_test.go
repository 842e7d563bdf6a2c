package udpbatch

import (
	"fmt"
	"net"
	"net/netip"
	"testing"
	"time"
)

func listen(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// receive reads n datagrams (or fails after 2 s) and returns their contents.
func receive(t *testing.T, c *net.UDPConn, n int) []string {
	t.Helper()
	var out []string
	buf := make([]byte, 2000)
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	for len(out) < n {
		k, _, err := c.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("received %d datagrams %q, want %d: %v", len(out), out, n, err)
		}
		out = append(out, string(buf[:k]))
	}
	return out
}

// nothing checks that no datagram is waiting on c.
func nothing(t *testing.T, c *net.UDPConn, why string) {
	t.Helper()
	buf := make([]byte, 2000)
	_ = c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if k, _, err := c.ReadFromUDP(buf); err == nil {
		t.Fatalf("%s: got %q, want nothing yet", why, buf[:k])
	}
}

func TestBatching(t *testing.T) {
	dst := listen(t)
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	b := New(listen(t), Params{MaxBatch: 4})

	if _, err := b.WriteToAddrPort([]byte("direct"), to); err != nil {
		t.Fatal(err)
	}
	if got := receive(t, dst, 1); got[0] != "direct" {
		t.Fatalf("outside a batch: got %q", got)
	}

	b.Begin()
	b.Begin() // nested: another fan-out goroutine
	for i := range 3 {
		if n, err := b.WriteToAddrPort(fmt.Appendf(nil, "p%d", i), to); n != 2 || err != nil {
			t.Fatalf("queued write = %d, %v; want 2, nil", n, err)
		}
	}
	nothing(t, dst, "3 datagrams queued in an open batch")
	b.End()
	nothing(t, dst, "inner batch ended, outer still open")
	b.End()
	if got := fmt.Sprint(receive(t, dst, 3)); got != "[p0 p1 p2]" {
		t.Fatalf("after End: %s, want [p0 p1 p2]", got)
	}

	// A full queue leaves at once.
	b.Begin()
	for i := range 9 {
		_, _ = b.WriteToAddrPort(fmt.Appendf(nil, "q%d", i), to)
	}
	if got := fmt.Sprint(receive(t, dst, 8)); got != "[q0 q1 q2 q3 q4 q5 q6 q7]" {
		t.Fatalf("two full queues: %s", got)
	}
	nothing(t, dst, "ninth datagram queued")
	b.End()
	receive(t, dst, 1)
	if s := b.Stats(); s.Batched != 12 || s.Batches < 3 || s.Direct != 1 || s.Errors != 0 {
		t.Errorf("stats %+v, want 12 batched in >= 3 batches, 1 direct, no errors", s)
	}
}

// TestBatchError: a datagram the kernel refuses is dropped, the rest of the
// batch still leaves.
func TestBatchError(t *testing.T) {
	dst := listen(t)
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	b := New(listen(t), Params{})
	b.Begin()
	_, _ = b.WriteToAddrPort([]byte("a"), to)
	_, _ = b.WriteToAddrPort([]byte("bad"), netip.MustParseAddrPort("[2001:db8::1]:9")) // IPv6 on an IPv4 socket
	_, _ = b.WriteToAddrPort([]byte("c"), to)
	b.End()
	if got := fmt.Sprint(receive(t, dst, 2)); got != "[a c]" {
		t.Fatalf("got %s, want [a c]", got)
	}
	if s := b.Stats(); s.Errors != 1 || s.LastError == nil {
		t.Errorf("stats %+v, want 1 error", s)
	}
}

func TestBatchDoesNotAllocate(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector (sync.Pool drops items)")
	}
	dst := listen(t)
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	b := New(listen(t), Params{MaxBatch: 16})
	p := make([]byte, 1200)
	go func() { // drain, without allocating (AllocsPerRun counts every goroutine)
		buf := make([]byte, 2000)
		for {
			if _, _, err := dst.ReadFromUDPAddrPort(buf); err != nil {
				return
			}
		}
	}()
	fanout := func() {
		b.Begin()
		for range 10 {
			_, _ = b.WriteToAddrPort(p, to)
		}
		b.End()
	}
	fanout()
	if a := testing.AllocsPerRun(200, fanout); a != 0 {
		t.Errorf("a batch of 10 datagrams allocates %.1f times, want 0", a)
	}
}
