// Package udpbase measures the physical limit of packet forwarding on this machine: one
// sender -> a relay -> N receivers over loopback UDP, with plain writes (one sendto per
// packet and receiver) and batched writes (sendmmsg through golang.org/x/net/ipv4). The
// figure that matters is packets forwarded per relay CPU-second, which an SFU's forwarding
// path is compared with: an SFU does the same fan-out plus SRTP, header rewriting and
// bookkeeping.
package udpbase

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// Params of one measurement.
type Params struct {
	Receivers int           // fan-out per packet; 0: 10
	Rate      int           // packets per second the sender offers; 0: 10000
	Size      int           // bytes per packet; 0: 1200 (a full video RTP packet)
	Duration  time.Duration // 0: 3 s
	Batched   bool          // recvmmsg/sendmmsg instead of one syscall per packet
	BatchSize int           // messages per batch; 0: 64
}

// Result of one measurement.
type Result struct {
	Mode                  string  `json:"mode"` // "plain" or "batched"
	Receivers             int     `json:"receivers"`
	Size                  int     `json:"size_bytes"`
	DurationS             float64 `json:"duration_s"`
	PacketsIn             uint64  `json:"packets_in"`        // read by the relay
	PacketsForwarded      uint64  `json:"packets_forwarded"` // written by the relay
	PacketsReceived       uint64  `json:"packets_received"`  // read by the receivers
	LossPercent           float64 `json:"loss_percent"`
	RelayCPUSeconds       float64 `json:"relay_cpu_s"`
	RelayCPUPercent       float64 `json:"relay_cpu_percent"`
	ForwardedPerCPUSecond float64 `json:"forwarded_packets_per_cpu_s"`
	CPUMicrosPerPacket    float64 `json:"cpu_us_per_forwarded_packet"`
}

func (p *Params) defaults() error {
	if p.Receivers == 0 {
		p.Receivers = 10
	}
	if p.Rate == 0 {
		p.Rate = 10000
	}
	if p.Size == 0 {
		p.Size = 1200
	}
	if p.Duration == 0 {
		p.Duration = 3 * time.Second
	}
	if p.BatchSize == 0 {
		p.BatchSize = 64
	}
	switch {
	case p.Receivers < 1 || p.Receivers > 1000:
		return fmt.Errorf("udpbase: receivers %d out of range [1, 1000]", p.Receivers)
	case p.Rate < 1 || p.Rate > 1_000_000:
		return fmt.Errorf("udpbase: rate %d out of range [1, 1e6]", p.Rate)
	case p.Size < 16 || p.Size > 1472:
		return fmt.Errorf("udpbase: size %d out of range [16, 1472]", p.Size)
	case p.Duration < 100*time.Millisecond || p.Duration > time.Hour:
		return fmt.Errorf("udpbase: duration %v out of range [100ms, 1h]", p.Duration)
	case p.BatchSize < 1 || p.BatchSize > 1024:
		return fmt.Errorf("udpbase: batch size %d out of range [1, 1024]", p.BatchSize)
	}
	return nil
}

func listen() (*net.UDPConn, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("udpbase: listen: %w", err)
	}
	_ = c.SetReadBuffer(4 << 20)
	_ = c.SetWriteBuffer(4 << 20)
	return c, nil
}

// Run performs one measurement on 127.0.0.1 with ephemeral ports.
func Run(ctx context.Context, p Params) (Result, error) {
	if err := p.defaults(); err != nil {
		return Result{}, err
	}
	relay, err := listen()
	if err != nil {
		return Result{}, err
	}
	defer relay.Close()
	sender, err := listen()
	if err != nil {
		return Result{}, err
	}
	defer sender.Close()
	receivers := make([]*net.UDPConn, p.Receivers)
	addrs := make([]*net.UDPAddr, p.Receivers)
	for i := range receivers {
		if receivers[i], err = listen(); err != nil {
			return Result{}, err
		}
		defer receivers[i].Close()
		addrs[i] = receivers[i].LocalAddr().(*net.UDPAddr)
	}

	ctx, cancel := context.WithTimeout(ctx, p.Duration+2*time.Second)
	defer cancel()
	var received atomic.Uint64
	var wg sync.WaitGroup
	for _, rc := range receivers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			drain(ctx, rc, &received)
		}()
	}

	res := Result{Mode: "plain", Receivers: p.Receivers, Size: p.Size}
	if p.Batched {
		res.Mode = "batched"
	}
	relayDone := make(chan relayStats, 1)
	go func() { relayDone <- forward(relay, addrs, p, time.Now().Add(p.Duration+200*time.Millisecond)) }()

	start := time.Now()
	send(ctx, sender, relay.LocalAddr().(*net.UDPAddr), p)
	rs := <-relayDone
	// Let the receivers drain what is queued, then stop them.
	time.Sleep(100 * time.Millisecond)
	cancel()
	for _, rc := range receivers {
		_ = rc.SetReadDeadline(time.Now())
	}
	wg.Wait()
	if rs.err != nil {
		return Result{}, rs.err
	}
	res.DurationS = time.Since(start).Seconds()
	res.PacketsIn, res.PacketsForwarded, res.PacketsReceived = rs.in, rs.out, received.Load()
	if res.PacketsForwarded > 0 && res.PacketsReceived < res.PacketsForwarded {
		res.LossPercent = 100 * float64(res.PacketsForwarded-res.PacketsReceived) / float64(res.PacketsForwarded)
	}
	res.RelayCPUSeconds = rs.cpu.Seconds()
	res.RelayCPUPercent = 100 * rs.cpu.Seconds() / rs.wall.Seconds()
	if rs.cpu > 0 {
		res.ForwardedPerCPUSecond = float64(rs.out) / rs.cpu.Seconds()
		res.CPUMicrosPerPacket = rs.cpu.Seconds() * 1e6 / float64(rs.out)
	}
	if rs.out == 0 {
		return res, errors.New("udpbase: the relay forwarded nothing")
	}
	return res, nil
}

// send offers p.Rate packets per second in 1 ms bursts for p.Duration.
func send(ctx context.Context, c *net.UDPConn, to *net.UDPAddr, p Params) {
	buf := make([]byte, p.Size)
	end := time.Now().Add(p.Duration)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	var sent int
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			if now.After(end) {
				return
			}
			due := int(now.Sub(start).Seconds() * float64(p.Rate))
			for ; sent < due; sent++ {
				buf[0], buf[1] = byte(sent>>8), byte(sent)
				_, _ = c.WriteToUDP(buf, to)
			}
		}
	}
}

func drain(ctx context.Context, c *net.UDPConn, n *atomic.Uint64) {
	pc := ipv4.NewPacketConn(c)
	msgs := make([]ipv4.Message, 64)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	for ctx.Err() == nil {
		k, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			return
		}
		n.Add(uint64(k))
	}
}

type relayStats struct {
	in, out   uint64
	cpu, wall time.Duration
	err       error
}

// forward is the relay: it runs on a locked OS thread so that RUSAGE_THREAD measures
// exactly its CPU, and forwards every packet to every address until deadline.
func forward(c *net.UDPConn, to []*net.UDPAddr, p Params, deadline time.Time) (rs relayStats) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := c.SetReadDeadline(deadline); err != nil {
		return relayStats{err: err}
	}
	before, err := threadCPU()
	if err != nil {
		return relayStats{err: err}
	}
	start := time.Now()
	if p.Batched {
		rs = forwardBatched(c, to, p.BatchSize)
	} else {
		rs = forwardPlain(c, to)
	}
	after, err := threadCPU()
	if err != nil {
		return relayStats{err: err}
	}
	rs.cpu, rs.wall = after-before, time.Since(start)
	return rs
}

func forwardPlain(c *net.UDPConn, to []*net.UDPAddr) (rs relayStats) {
	buf := make([]byte, 1500)
	for {
		n, _, err := c.ReadFromUDP(buf)
		if err != nil {
			return rs // deadline
		}
		rs.in++
		for _, a := range to {
			if _, err := c.WriteToUDP(buf[:n], a); err == nil {
				rs.out++
			}
		}
	}
}

func forwardBatched(c *net.UDPConn, to []*net.UDPAddr, batch int) (rs relayStats) {
	pc := ipv4.NewPacketConn(c)
	in := make([]ipv4.Message, batch)
	for i := range in {
		in[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	out := make([]ipv4.Message, batch)
	for i := range out {
		out[i].Buffers = make([][]byte, 1)
	}
	queued := 0
	flush := func() {
		for off := 0; off < queued; {
			n, err := pc.WriteBatch(out[off:queued], 0)
			if err != nil {
				break
			}
			rs.out += uint64(n)
			off += n
		}
		queued = 0
	}
	for {
		k, err := pc.ReadBatch(in, 0)
		if err != nil {
			return rs // deadline
		}
		rs.in += uint64(k)
		for i := 0; i < k; i++ {
			pkt := in[i].Buffers[0][:in[i].N]
			for _, a := range to {
				out[queued].Buffers[0] = pkt
				out[queued].Addr = a
				queued++
				if queued == batch {
					flush()
				}
			}
		}
		// Flush before the next read reuses the input buffers.
		flush()
	}
}

// threadCPU is the calling OS thread's user + system CPU time.
func threadCPU() (time.Duration, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return 0, fmt.Errorf("udpbase: getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}
