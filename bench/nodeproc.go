package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/atrium-live/atrium/pkg/cluster"
)

// The scale-out measurement (ScaleOut) runs each SFU node as a process of its own in a
// cgroup of its own with a CPU quota, so that one small machine can show what N nodes of a
// given size serve. This file holds the process and cgroup side of it.

// cfsPeriod is the CFS period the node groups use: 100 ms, the kernel's default.
const cfsPeriod = 100_000 // µs

// cfsQuota is the cpu.cfs_quota_us that gives cores CPUs' worth of time per cfsPeriod.
// The kernel refuses quotas under 1 ms.
func cfsQuota(cores float64) (int, error) {
	if math.IsNaN(cores) || cores <= 0 || cores > 512 {
		return 0, fmt.Errorf("bench: node quota %v cores: want a number of cores in (0, 512]", cores)
	}
	q := int(math.Round(cores * cfsPeriod))
	if q < 1000 {
		return 0, fmt.Errorf("bench: node quota %v cores is under the kernel's minimum of 0.01", cores)
	}
	return q, nil
}

// cpuGroup is a cgroup v1 cpu folder with a CPU quota: the processes in it share that many
// cores' worth of time, and Go sizes GOMAXPROCS from it.
type cpuGroup struct {
	dir string
}

// newCPUGroup creates root/name with the quota and, if shares > 0, that cpu.shares (the
// group's weight while it is under its quota: on a machine shared with other work, a
// higher weight keeps other load from delaying it). root is the cpu controller's mount
// (/sys/fs/cgroup/cpu); it must be writable (root, or a delegated folder).
func newCPUGroup(root, name string, cores float64, shares int) (*cpuGroup, error) {
	quota, err := cfsQuota(cores)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(root, "cpu.cfs_quota_us")); err != nil {
		return nil, fmt.Errorf("bench: %s is not a cgroup v1 cpu controller: %w", root, err)
	}
	dir := filepath.Join(root, name)
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("bench: cgroup: %w", err)
	}
	g := &cpuGroup{dir: dir}
	settings := map[string]int{"cpu.cfs_period_us": cfsPeriod, "cpu.cfs_quota_us": quota}
	if shares > 0 {
		settings["cpu.shares"] = shares
	}
	for file, v := range settings {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(strconv.Itoa(v)), 0o644); err != nil {
			_ = g.remove()
			return nil, fmt.Errorf("bench: cgroup %s: %w", file, err)
		}
	}
	return g, nil
}

// command returns argv wrapped so that the process joins the group before it execs (a
// cgexec without libcgroup): the program starts, and sizes itself, inside its quota.
func (g *cpuGroup) command(argv ...string) []string {
	return append([]string{"/bin/sh", "-c", `echo $$ >"$0/cgroup.procs" && exec "$@"`, g.dir}, argv...)
}

// cpuStat is the group's throttling counters (cpu.stat).
type cpuStat struct {
	Periods, Throttled int64
	ThrottledTime      time.Duration
}

func (g *cpuGroup) stat() (cpuStat, error) {
	raw, err := os.ReadFile(filepath.Join(g.dir, "cpu.stat"))
	if err != nil {
		return cpuStat{}, fmt.Errorf("bench: cgroup stat: %w", err)
	}
	return parseCPUStat(string(raw)), nil
}

// parseCPUStat reads nr_periods, nr_throttled and throttled_time (ns) from cpu.stat.
func parseCPUStat(raw string) cpuStat {
	var s cpuStat
	for _, line := range strings.Split(raw, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "nr_periods":
			s.Periods = n
		case "nr_throttled":
			s.Throttled = n
		case "throttled_time":
			s.ThrottledTime = time.Duration(n)
		}
	}
	return s
}

func (s cpuStat) sub(o cpuStat) cpuStat {
	return cpuStat{Periods: s.Periods - o.Periods, Throttled: s.Throttled - o.Throttled, ThrottledTime: s.ThrottledTime - o.ThrottledTime}
}

// remove deletes the folder; it fails while processes are still in it.
func (g *cpuGroup) remove() error {
	var err error
	for i := 0; i < 50; i++ { // a killed process leaves the group a moment after wait returns
		if err = os.Remove(g.dir); err == nil || errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("bench: remove cgroup: %w", err)
}

// nodeProc is one atrium process (an SFU node or the signal gateway) the bench started.
type nodeProc struct {
	id      string
	cmd     *exec.Cmd
	http    string // base URL
	metrics string // /metrics URL ("" for the gateway)
	group   *cpuGroup
	done    chan struct{}
}

// stop ends the process (SIGTERM, then SIGKILL after grace) and waits for it.
func (p *nodeProc) stop(grace time.Duration) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(grace):
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
		<-p.done
	}
}

func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startProc runs argv with env added, its output appended to logPath.
func startProc(id string, argv []string, env map[string]string, logPath string) (*nodeProc, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := io.Discard
	var f *os.File
	if logPath != "" {
		var err error
		if f, err = os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return nil, fmt.Errorf("bench: %s log: %w", id, err)
		}
		out = f
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		if f != nil {
			f.Close()
		}
		return nil, fmt.Errorf("bench: start %s: %w", id, err)
	}
	p := &nodeProc{id: id, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		if f != nil {
			f.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// quotaCluster is N `atrium sfu` nodes, each in a cgroup with the same quota, and one
// `atrium signal` gateway (outside the quotas: it is the tester's way in), sharing room
// leases in a Redis under a key prefix of their own.
type quotaCluster struct {
	nodes   []*nodeProc
	gateway *nodeProc
}

type quotaClusterParams struct {
	Binary     string
	Nodes      int
	Quota      float64 // cores per node
	Shares     int     // cpu.shares of the node groups (0: the default)
	CgroupRoot string
	Redis      string
	PerNode    int    // relay.participants_per_node
	Tag        string // unique per cluster: cgroup names, lease prefix
	LogDir     string // "": discard the processes' output
}

// startQuotaCluster starts the processes and waits (≤ 30 s) until the gateway sees every
// node serving with a relay address.
func startQuotaCluster(ctx context.Context, p quotaClusterParams) (*quotaCluster, error) {
	qc := &quotaCluster{}
	fail := func(err error) (*quotaCluster, error) {
		qc.stop()
		return nil, err
	}
	gossip := make([]int, p.Nodes)
	var seeds []string
	for i := range gossip {
		port, err := freePort("tcp")
		if err != nil {
			return fail(err)
		}
		gossip[i] = port
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", port))
	}
	logFile := func(id string) string {
		if p.LogDir == "" {
			return ""
		}
		return filepath.Join(p.LogDir, p.Tag+"-"+id+".log")
	}
	for i := 0; i < p.Nodes; i++ {
		id := fmt.Sprintf("sfu-%d", i+1)
		httpPort, err1 := freePort("tcp")
		udpPort, err2 := freePort("udp")
		metricsPort, err3 := freePort("tcp")
		if err := errors.Join(err1, err2, err3); err != nil {
			return fail(err)
		}
		g, err := newCPUGroup(p.CgroupRoot, "atrium-"+p.Tag+"-"+id, p.Quota, p.Shares)
		if err != nil {
			return fail(err)
		}
		env := map[string]string{
			"ATRIUM_SFU_NODE_ID":                     id,
			"ATRIUM_SFU_HTTP_ADDR":                   fmt.Sprintf("127.0.0.1:%d", httpPort),
			"ATRIUM_SFU_RTC_UDP_ADDR":                fmt.Sprintf("127.0.0.1:%d", udpPort),
			"ATRIUM_SFU_METRICS_ADDR":                fmt.Sprintf("127.0.0.1:%d", metricsPort),
			"ATRIUM_SFU_CLUSTER_ENABLED":             "true",
			"ATRIUM_SFU_CLUSTER_PRESET":              cluster.PresetLAN,
			"ATRIUM_SFU_CLUSTER_BIND_ADDR":           fmt.Sprintf("127.0.0.1:%d", gossip[i]),
			"ATRIUM_SFU_CLUSTER_SEEDS":               strings.Join(seeds, ","),
			"ATRIUM_SFU_PLACEMENT_REDIS_ADDR":        p.Redis,
			"ATRIUM_SFU_PLACEMENT_KEY_PREFIX":        p.Tag + ":",
			"ATRIUM_SFU_RELAY_ADDR":                  "127.0.0.1:0",
			"ATRIUM_SFU_RELAY_PARTICIPANTS_PER_NODE": strconv.Itoa(p.PerNode),
			"ATRIUM_SFU_DRAIN_TIMEOUT":               "2s",
		}
		proc, err := startProc(id, g.command(p.Binary, "sfu", "--dev", "--log-level", "warn"), env, logFile(id))
		if err != nil {
			_ = g.remove()
			return fail(err)
		}
		proc.group = g
		proc.http = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		proc.metrics = fmt.Sprintf("http://127.0.0.1:%d/metrics", metricsPort)
		qc.nodes = append(qc.nodes, proc)
	}
	gwPort, err1 := freePort("tcp")
	gwGossip, err2 := freePort("tcp")
	if err := errors.Join(err1, err2); err != nil {
		return fail(err)
	}
	gw, err := startProc("gw-1", []string{p.Binary, "signal", "--dev", "--log-level", "warn"}, map[string]string{
		"ATRIUM_SIGNAL_NODE_ID":              "gw-1",
		"ATRIUM_SIGNAL_HTTP_ADDR":            fmt.Sprintf("127.0.0.1:%d", gwPort),
		"ATRIUM_SIGNAL_CLUSTER_BIND_ADDR":    fmt.Sprintf("127.0.0.1:%d", gwGossip),
		"ATRIUM_SIGNAL_CLUSTER_PRESET":       cluster.PresetLAN,
		"ATRIUM_SIGNAL_CLUSTER_SEEDS":        strings.Join(seeds, ","),
		"ATRIUM_SIGNAL_PLACEMENT_REDIS_ADDR": p.Redis,
		"ATRIUM_SIGNAL_PLACEMENT_KEY_PREFIX": p.Tag + ":",
	}, logFile("gw-1"))
	if err != nil {
		return fail(err)
	}
	gw.http = fmt.Sprintf("http://127.0.0.1:%d", gwPort)
	qc.gateway = gw
	if err := qc.waitReady(ctx, p.Nodes, 30*time.Second); err != nil {
		return fail(err)
	}
	return qc, nil
}

// waitReady waits until the gateway's view has n serving SFU nodes with relay addresses.
func (qc *quotaCluster) waitReady(ctx context.Context, n int, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	t := Target{URL: qc.gateway.http, APIKey: devAPIKey, APISecret: devAPISecret}
	var last string
	for {
		for _, p := range append([]*nodeProc{qc.gateway}, qc.nodes...) {
			select {
			case <-p.done:
				return fmt.Errorf("bench: %s exited during start-up (see its log)", p.id)
			default:
			}
		}
		if v, err := FetchCluster(ctx, client, t); err == nil {
			ok := 0
			for _, m := range v.SFUs() {
				if (m.State == cluster.StateServing || m.State == "") && m.RelayAddr != "" {
					ok++
				}
			}
			if ok == n {
				return nil
			}
			last = fmt.Sprintf("%d of %d nodes serving with a relay address", ok, n)
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("bench: the cluster did not form within %s: %s", within, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// stop ends every process and removes the cgroups.
func (qc *quotaCluster) stop() {
	procs := qc.nodes
	if qc.gateway != nil {
		procs = append([]*nodeProc{qc.gateway}, procs...)
	}
	for _, p := range procs {
		p.stop(5 * time.Second)
		if p.group != nil {
			_ = p.group.remove()
		}
	}
}

// The dev key pair `atrium sfu --dev` and `atrium signal --dev` accept.
const (
	devAPIKey    = "devkey"
	devAPISecret = "secret"
)

// scrapeSums reads a Prometheus text exposition and sums, per metric name asked for, the
// values of all its samples (every label set). Names not exposed are absent.
func scrapeSums(ctx context.Context, client *http.Client, url string, names ...string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: scrape %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("bench: scrape %s: HTTP %s", url, resp.Status)
	}
	return parseSums(io.LimitReader(resp.Body, 32<<20), names)
}

func parseSums(r io.Reader, names []string) (map[string]float64, error) {
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		if !want[name] {
			continue
		}
		rest := line[len(name):]
		if strings.HasPrefix(rest, "{") {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				return nil, fmt.Errorf("bench: malformed sample %q", line)
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return nil, fmt.Errorf("bench: malformed sample %q", line)
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("bench: malformed sample %q", line)
		}
		out[name] += v
	}
	return out, sc.Err()
}
