package turn_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const rawTargetsEnv = "ATRIUM_TURN_BENCH_RAW_TARGETS"

// runRawChild forwards every datagram arriving on socket i to target i (from rawTargetsEnv),
// one goroutine per socket, until SIGTERM: the least a UDP relay can do per packet.
func runRawChild() int {
	targets := strings.Split(os.Getenv(rawTargetsEnv), ",")
	var addrs []string
	for _, tgt := range targets {
		dst, err := net.ResolveUDPAddr("udp4", tgt)
		if err != nil {
			fmt.Fprintln(os.Stderr, "raw child:", err)
			return 1
		}
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			fmt.Fprintln(os.Stderr, "raw child:", err)
			return 1
		}
		addrs = append(addrs, c.LocalAddr().String())
		go func() {
			buf := make([]byte, 2000)
			for {
				n, _, err := c.ReadFromUDP(buf)
				if err != nil {
					return
				}
				_, _ = c.WriteToUDP(buf[:n], dst)
			}
		}()
	}
	if err := json.NewEncoder(os.Stdout).Encode(addrs); err != nil {
		return 1
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	return 0
}

func benchRaw(b *testing.B) {
	pps, n, duration := benchPPS(), benchAllocations, benchDuration()
	var receivers []*net.UDPConn
	var targets []string
	for i := 0; i < n; i++ {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		receivers = append(receivers, c)
		targets = append(targets, c.LocalAddr().String())
	}
	var forwarders []string
	cmd := startBenchChild(b, "raw", []string{rawTargetsEnv + "=" + strings.Join(targets, ",")}, &forwarders)
	var dsts []*net.UDPAddr
	for _, f := range forwarders {
		a, err := net.ResolveUDPAddr("udp4", f)
		if err != nil {
			b.Fatal(err)
		}
		dsts = append(dsts, a)
	}
	sender, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer sender.Close()

	var received atomic.Int64
	for _, r := range receivers {
		go func() {
			buf := make([]byte, 2000)
			for {
				if _, _, err := r.ReadFrom(buf); err != nil {
					return
				}
				received.Add(1)
			}
		}()
	}
	cpuBefore := procCPU(b, cmd.Process.Pid)
	start := time.Now()
	b.ResetTimer()
	sent := pace(duration, pps, benchSize, n, func(i int, payload []byte) error {
		_, err := sender.WriteToUDP(payload, dsts[i])
		return err
	})
	time.Sleep(100 * time.Millisecond)
	b.StopTimer()
	elapsed := time.Since(start).Seconds()
	cpu := procCPU(b, cmd.Process.Pid) - cpuBefore
	forwarded := float64(received.Load())
	if cpu <= 0 {
		b.Fatalf("forwarder used no measurable CPU (%.3fs) over %.1fs; run longer (-benchtime)", cpu, elapsed)
	}
	b.ReportMetric(forwarded/cpu, "forwarded-pkts/cpu-s")
	b.ReportMetric(forwarded/elapsed, "forwarded-pkts/s")
	b.ReportMetric(cpu/elapsed, "forwarder-cpus")
	b.ReportMetric(forwarded/float64(max(sent, 1)), "delivered-ratio")
}
