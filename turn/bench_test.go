package turn_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/atrium-live/atrium/turn"
)

// The relay under benchmark runs in a child process (this test binary re-executed with
// benchChildEnv set), so its CPU time, read from /proc, excludes the load generator.
const benchChildEnv = "ATRIUM_TURN_BENCH_CHILD"

const benchSecret = "bench-secret"

// runBenchChild runs the child of the given mode: "relay" or "raw".
func runBenchChild(mode string) int {
	if mode == "raw" {
		return runRawChild()
	}
	return runRelayChild()
}

// runRelayChild serves a relay until SIGTERM, printing its addresses as one JSON line.
func runRelayChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	cfg := turn.LocalConfig()
	cfg.Auth.Secret = benchSecret
	cfg.Listen.UDPSockets = 0 // one per CPU, as deployed
	cfg.Quota = turn.QuotaConfig{}
	srv, err := turn.New(cfg, turn.Deps{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	if err := json.NewEncoder(os.Stdout).Encode(srv.Addrs()); err != nil {
		return 1
	}
	if err := srv.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "bench child:", err)
		return 1
	}
	return 0
}

// BenchmarkRelayCPU measures relayed packets per CPU-second of the relay process, for
// 1200-byte datagrams over UDP allocations at a paced aggregate rate (ATRIUM_TURN_BENCH_PPS,
// default 20000). from_peer is the relay-only subscriber's direction (SFU -> relay -> client);
// to_peer the publisher's. Run:
//
//	go test ./turn -run '^$' -bench RelayCPU -benchtime 5s
//
// b.N is not used: each run offers ATRIUM_TURN_BENCH_PPS for the bench time.
// raw_udp_baseline is the same load through a plain Go UDP forwarder (read, write, nothing
// else), to express the relay's figure as a fraction of what the machine forwards at best.
func BenchmarkRelayCPU(b *testing.B) {
	for _, dir := range []string{"from_peer", "to_peer"} {
		b.Run(dir, func(b *testing.B) { benchRelay(b, dir) })
	}
	b.Run("raw_udp_baseline", benchRaw)
}

// Load shape shared by the relay and the raw baseline.
const (
	benchAllocations = 8
	benchSize        = 1200
)

func benchPPS() int {
	if v, err := strconv.Atoi(os.Getenv("ATRIUM_TURN_BENCH_PPS")); err == nil && v > 0 {
		return v
	}
	return 20000
}

// startBenchChild re-executes the test binary as a child of the given mode and decodes the
// first line it prints into first. The child is stopped with SIGTERM when the benchmark ends.
func startBenchChild(b *testing.B, mode string, env []string, first any) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), benchChildEnv+"="+mode), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start %s child: %v", mode, err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || json.Unmarshal([]byte(line), first) != nil {
		b.Fatalf("%s child did not report its addresses: %q %v", mode, line, err)
	}
	return cmd
}

// pace offers pps datagrams of size bytes per second for d, spread over n streams in 10 ms
// ticks, calling send(stream, payload); it returns how many sends succeeded.
func pace(d time.Duration, pps, size, n int, send func(i int, payload []byte) error) int {
	payload := make([]byte, size)
	const tick = 10 * time.Millisecond
	perTick := max(1, pps*int(tick/time.Millisecond)/1000/n)
	sent := 0
	start := time.Now()
	for next := start; time.Since(start) < d; next = next.Add(tick) {
		time.Sleep(time.Until(next))
		for i := 0; i < n; i++ {
			for k := 0; k < perTick; k++ {
				if send(i, payload) == nil {
					sent++
				}
			}
		}
	}
	return sent
}

func benchRelay(b *testing.B, direction string) {
	pps, allocations, duration := benchPPS(), benchAllocations, benchDuration()

	var addrs turn.Addrs
	cmd := startBenchChild(b, "relay", nil, &addrs)

	type pair struct {
		relay net.PacketConn
		peer  *net.UDPConn
	}
	pairs := make([]pair, allocations)
	for i := range pairs {
		user, pass := turncred.Generate(benchSecret, fmt.Sprintf("bench%d", i), time.Hour, time.Now())
		c, conn, err := benchClient(addrs.UDP, user, pass)
		if err != nil {
			b.Fatal(err)
		}
		defer conn.Close()
		defer c.Close()
		rc, err := c.Allocate()
		if err != nil {
			b.Fatalf("Allocate: %v", err)
		}
		defer rc.Close()
		peer, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		defer peer.Close()
		// Permission and channel binding: one datagram each way before measuring.
		if _, err := rc.WriteTo([]byte("hello"), peer.LocalAddr()); err != nil {
			b.Fatal(err)
		}
		_ = peer.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 64)
		if _, _, err := peer.ReadFrom(buf); err != nil {
			b.Fatalf("warm-up datagram did not arrive: %v", err)
		}
		pairs[i] = pair{relay: rc, peer: peer}
	}
	time.Sleep(200 * time.Millisecond) // let channel binds settle

	var received atomic.Int64
	var readers sync.WaitGroup
	stopRead := make(chan struct{})
	for _, p := range pairs {
		var r net.PacketConn = p.relay
		if direction == "to_peer" {
			r = p.peer
		}
		readers.Add(1)
		go func() {
			defer readers.Done()
			buf := make([]byte, 2000)
			for {
				select {
				case <-stopRead:
					return
				default:
				}
				_ = r.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
				if _, _, err := r.ReadFrom(buf); err == nil {
					received.Add(1)
				}
			}
		}()
	}

	metricsURL := "http://" + addrs.HTTP + "/metrics"
	relayedBefore := scrapeRelayed(b, metricsURL, direction)
	cpuBefore := procCPU(b, cmd.Process.Pid)
	start := time.Now()
	b.ResetTimer()

	sent := pace(duration, pps, benchSize, len(pairs), func(i int, payload []byte) error {
		p := pairs[i]
		if direction == "from_peer" {
			_, err := p.peer.WriteTo(payload, p.relay.LocalAddr())
			return err
		}
		_, err := p.relay.WriteTo(payload, p.peer.LocalAddr())
		return err
	})
	time.Sleep(100 * time.Millisecond) // in-flight packets
	b.StopTimer()
	elapsed := time.Since(start).Seconds()
	cpu := procCPU(b, cmd.Process.Pid) - cpuBefore
	relayed := scrapeRelayed(b, metricsURL, direction) - relayedBefore
	close(stopRead)
	readers.Wait()
	if cpu <= 0 {
		b.Fatalf("relay used no measurable CPU (%.3fs) over %.1fs; run longer (-benchtime)", cpu, elapsed)
	}
	_ = sent
	b.ReportMetric(relayed/cpu, "relayed-pkts/cpu-s")
	b.ReportMetric(relayed/elapsed, "relayed-pkts/s")
	b.ReportMetric(cpu/elapsed, "relay-cpus")
	b.ReportMetric(float64(received.Load())/float64(max(sent, 1)), "delivered-ratio")
}

func benchDuration() time.Duration {
	for _, a := range os.Args {
		if v, ok := strings.CutPrefix(a, "-test.benchtime="); ok {
			if d, err := time.ParseDuration(v); err == nil {
				return d
			}
		}
	}
	return time.Second
}

// procCPU is the user+system CPU seconds consumed so far by process pid.
func procCPU(b *testing.B, pid int) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("read /proc stat: %v", err)
	}
	// Fields after the parenthesised command name; utime and stime are fields 14 and 15.
	s := string(raw)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// scrapeRelayed sums atrium_turn_relayed_packets_total for direction over transports.
func scrapeRelayed(b *testing.B, url, direction string) float64 {
	resp, err := http.Get(url)
	if err != nil {
		b.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var sum float64
	for _, line := range strings.Split(string(body), "\n") {
		if strings.HasPrefix(line, "atrium_turn_relayed_packets_total{") && strings.Contains(line, `direction="`+direction+`"`) {
			v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
			if err == nil {
				sum += v
			}
		}
	}
	return sum
}
