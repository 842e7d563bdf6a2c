package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/atrium-live/atrium/bench/procstat"
)

// ScaleOutOptions configure ScaleOut: for each cluster size, the most students one lecture
// can have while every student still gets its media within the criteria, with every SFU
// node held to the same CPU quota (docs/relay.md, "Scale-out").
type ScaleOutOptions struct {
	// Run is the lecture (its subscribe-only group is resized per trial; Target, Room and
	// ServerPID are set per trial).
	Run Options
	// Binary is the atrium executable the nodes and the gateway run.
	Binary string
	// NodeQuota is each node's CPU budget in cores (cgroup v1 cpu.cfs_quota_us of a 100 ms
	// period); CgroupRoot is the cpu controller's mount (default /sys/fs/cgroup/cpu).
	NodeQuota  float64
	CgroupRoot string
	// NodeShares is the node groups' cpu.shares (0: the kernel's 1024): their weight against
	// other load on the machine while under their quota.
	NodeShares int
	// Nodes are the cluster sizes to measure, e.g. 1 and 3.
	Nodes []int
	// Redis is the lease store the nodes and the gateway share (host:port).
	Redis string
	// StartPerNode is the first class size tried per node (default 20); the search doubles
	// it while trials pass, up to MaxStudents (default 1000), then bisects to Resolution
	// (default 0.1: within 10%) in at most MaxTrials class sizes per cluster size (default
	// 8). A failing size is tried twice and fails only if both trials do.
	StartPerNode, MaxStudents, MaxTrials int
	Resolution                           float64
	// LossMaxPercent and LatencyP99MaxMs are the criteria (defaults 0.5 and 50).
	LossMaxPercent, LatencyP99MaxMs float64
	// LogDir keeps every process's log; "" discards them.
	LogDir   string
	Progress io.Writer
}

// ScaleOutResult is what ScaleOut found.
type ScaleOutResult struct {
	StartedAt       time.Time         `json:"started_at"`
	NodeQuotaCores  float64           `json:"node_quota_cores"`
	NodeShares      int               `json:"node_cpu_shares,omitempty"`
	LossMaxPercent  float64           `json:"loss_max_percent"`
	LatencyP99MaxMs float64           `json:"latency_p99_max_ms"`
	Video           VideoSpec         `json:"video"`
	TrialDurationS  float64           `json:"trial_duration_s"`
	Lean            bool              `json:"lean_subscribers"`
	Clusters        []ScaleOutCluster `json:"clusters"`
	// Ratio is the largest cluster's MaxStudents over the smallest's.
	Ratio float64 `json:"ratio"`
	// LoadBefore and LoadAfter are /proc/loadavg (1, 5, 15 min) around the whole run: the
	// machine's other load bounds every figure.
	LoadBefore string   `json:"load_before"`
	LoadAfter  string   `json:"load_after"`
	Warnings   []string `json:"warnings,omitempty"`
}

// ScaleOutCluster is one cluster size's search.
type ScaleOutCluster struct {
	Nodes       int             `json:"nodes"`
	MaxStudents int             `json:"max_students"` // 0: no trial passed
	Trials      []ScaleOutTrial `json:"trials"`
}

// ScaleOutTrial is one lecture on a fresh cluster.
type ScaleOutTrial struct {
	Students     int            `json:"students"`
	PerNode      int            `json:"participants_per_node"`
	Pass         bool           `json:"pass"`
	Reason       string         `json:"reason,omitempty"`
	LossPercent  float64        `json:"loss_percent"`
	LatencyP50Ms float64        `json:"latency_p50_ms"`
	LatencyP99Ms float64        `json:"latency_p99_ms"`
	JoinsFailed  int            `json:"joins_failed"`
	Placed       map[string]int `json:"participants_per_node_placed,omitempty"`
	LoadAverage  float64        `json:"load_average"`
	TesterCPU    float64        `json:"tester_cpu_percent"`
	NodeStats    []NodeStat     `json:"node_stats"`
	// Result is the trial's full lecture result.
	Result *Result `json:"result,omitempty"`
}

// NodeStat is one node process over a trial (from its start to the end of the run).
type NodeStat struct {
	Node       string  `json:"node"`
	CPUSeconds float64 `json:"cpu_s"`
	CPUPercent float64 `json:"cpu_percent"` // of one core; the quota caps it
	// ThrottledPercent is the share of CFS periods in which the quota ran out.
	ThrottledPercent float64 `json:"throttled_percent"`
	MediaPacketsOut  float64 `json:"media_packets_out"` // to subscribers and relay links
	RelayPacketsOut  float64 `json:"relay_packets_out"`
	RelayPacketsIn   float64 `json:"relay_packets_in"`
	// MicrosPerPacket is CPU time per media packet sent (everything the node did, joins
	// included, divided by what it forwarded).
	MicrosPerPacket float64 `json:"cpu_us_per_packet_out"`
}

// nextStudents picks the next class size to try from the verdicts so far (size -> pass):
// start, then doubling while trials pass (capped at max), then bisection between the
// largest size that passed below the smallest that failed, until the two are within
// resolution of the failing size (and at least 2 apart). 0: the search is over.
func nextStudents(tried map[int]bool, start, max int, resolution float64) int {
	if start < 1 {
		start = 1
	}
	start = min(start, max)
	hi := max + 1 // smallest failing size
	for n, ok := range tried {
		if !ok && n < hi {
			hi = n
		}
	}
	lo := 0 // largest passing size below hi
	for n, ok := range tried {
		if ok && n < hi && n > lo {
			lo = n
		}
	}
	if len(tried) == 0 {
		return start
	}
	if hi > max {
		if lo >= max {
			return 0
		}
		if lo == 0 {
			return start
		}
		return min(2*lo, max)
	}
	gap := float64(hi - lo)
	if hi-lo <= 2 || (lo > 0 && gap <= resolution*float64(hi)) {
		return 0
	}
	next := (lo + hi) / 2
	if _, seen := tried[next]; seen {
		return 0
	}
	return next
}

// trialVerdict applies the criteria to one run.
func trialVerdict(res *Result, runErr error, lossMax, p99Max float64) (bool, string) {
	switch {
	case res == nil:
		return false, fmt.Sprintf("no result: %v", runErr)
	case runErr != nil:
		return false, runErr.Error()
	case res.Joins.Failed > 0:
		return false, fmt.Sprintf("%d joins failed", res.Joins.Failed)
	case res.LossPercent > lossMax:
		return false, fmt.Sprintf("loss %.2f%% > %.2f%%", res.LossPercent, lossMax)
	case res.Latency.P99 > p99Max:
		return false, fmt.Sprintf("latency p99 %.1f ms > %.0f ms", res.Latency.P99, p99Max)
	}
	return true, ""
}

// perNodeBound is relay.participants_per_node for a lecture of students (plus its teacher)
// on n nodes: an even spread.
func perNodeBound(students, teachers, n int) int {
	if n <= 1 {
		return 0
	}
	return (students + teachers + n - 1) / n
}

func (o *ScaleOutOptions) defaults() error {
	if o.CgroupRoot == "" {
		o.CgroupRoot = "/sys/fs/cgroup/cpu"
	}
	if o.StartPerNode <= 0 {
		o.StartPerNode = 20
	}
	if o.MaxStudents <= 0 {
		o.MaxStudents = 1000
	}
	if o.MaxTrials <= 0 {
		o.MaxTrials = 8
	}
	if o.Resolution <= 0 {
		o.Resolution = 0.1
	}
	if o.LossMaxPercent <= 0 {
		o.LossMaxPercent = 0.5
	}
	if o.LatencyP99MaxMs <= 0 {
		o.LatencyP99MaxMs = 50
	}
	if _, err := cfsQuota(o.NodeQuota); err != nil {
		return err
	}
	if len(o.Nodes) == 0 {
		return errors.New("bench: scale-out needs cluster sizes (--nodes)")
	}
	for _, n := range o.Nodes {
		if n < 1 || n > 16 {
			return fmt.Errorf("bench: %d nodes: want 1 to 16", n)
		}
	}
	if o.Binary == "" || o.Redis == "" {
		return errors.New("bench: scale-out needs the atrium binary and a Redis address")
	}
	if studentGroup(&o.Run.Scenario) < 0 {
		return errors.New("bench: scale-out needs a scenario with a subscribe-only group (the lecture)")
	}
	return nil
}

// studentGroup is the index of the scenario's subscribe-only group (-1 if none).
func studentGroup(s *Scenario) int {
	for i, g := range s.Groups {
		if g.Subscribe && !g.PublishAudio && !g.PublishVideo {
			return i
		}
	}
	return -1
}

func loadAvg() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(raw))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// ScaleOut measures, for each cluster size, the largest lecture served within the criteria.
// Each trial runs on a fresh cluster (so no trial inherits another's state), and the search
// per size is bounded by MaxTrials.
func ScaleOut(ctx context.Context, o ScaleOutOptions) (*ScaleOutResult, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	res := &ScaleOutResult{StartedAt: time.Now().UTC(), NodeQuotaCores: o.NodeQuota, NodeShares: o.NodeShares, LossMaxPercent: o.LossMaxPercent,
		LatencyP99MaxMs: o.LatencyP99MaxMs, Video: o.Run.Scenario.Video, TrialDurationS: o.Run.Scenario.Duration.Seconds(),
		Lean: o.Run.Lean, LoadBefore: loadAvg()}
	for _, n := range o.Nodes {
		c := ScaleOutCluster{Nodes: n}
		tried := map[int]bool{}
		for {
			students := nextStudents(tried, o.StartPerNode*n, o.MaxStudents, o.Resolution)
			if students == 0 {
				break
			}
			if len(tried) >= o.MaxTrials {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%d node(s): the search stopped at %d trials, before the resolution asked for", n, o.MaxTrials))
				break
			}
			// A failure is run again once before it counts: on a shared machine one
			// trial's p99 can be another process's doing.
			pass := false
			for attempt := 0; attempt < 2 && !pass; attempt++ {
				tr, err := scaleOutTrial(ctx, o, n, students, len(c.Trials))
				if err != nil {
					res.LoadAfter = loadAvg()
					res.Clusters = append(res.Clusters, c)
					return res, err
				}
				c.Trials = append(c.Trials, tr)
				pass = tr.Pass
				if o.Progress != nil {
					fmt.Fprintf(o.Progress, "scale-out: %d node(s), %d students: %s (loss %.3f%%, p99 %.1f ms, load %.2f)\n",
						n, students, verdictWord(tr), tr.LossPercent, tr.LatencyP99Ms, tr.LoadAverage)
				}
			}
			tried[students] = pass
			if pass && students > c.MaxStudents {
				c.MaxStudents = students
			}
		}
		res.Clusters = append(res.Clusters, c)
	}
	res.LoadAfter = loadAvg()
	if len(res.Clusters) >= 2 {
		first, last := res.Clusters[0], res.Clusters[len(res.Clusters)-1]
		if first.MaxStudents > 0 {
			res.Ratio = float64(last.MaxStudents) / float64(first.MaxStudents)
		}
	}
	return res, nil
}

func verdictWord(t ScaleOutTrial) string {
	if t.Pass {
		return "pass"
	}
	return "FAIL: " + t.Reason
}

// scaleOutTrial runs one lecture of students on a fresh cluster of n nodes. An error is a
// failure of the bench itself (the cluster would not start), not of the trial.
func scaleOutTrial(ctx context.Context, o ScaleOutOptions, n, students, seq int) (ScaleOutTrial, error) {
	scn := o.Run.Scenario
	scn.Groups = append([]Group(nil), scn.Groups...)
	teachers := 0
	for i := range scn.Groups {
		if i == studentGroup(&scn) {
			scn.Groups[i].Count = students
		} else {
			teachers += scn.Groups[i].Count
		}
	}
	tag := fmt.Sprintf("scaleout-%d-%d-%d", os.Getpid(), n, seq)
	scn.Room = tag
	tr := ScaleOutTrial{Students: students, PerNode: perNodeBound(students, teachers, n)}
	qc, err := startQuotaCluster(ctx, quotaClusterParams{Binary: o.Binary, Nodes: n, Quota: o.NodeQuota, Shares: o.NodeShares,
		CgroupRoot: o.CgroupRoot, Redis: o.Redis, PerNode: tr.PerNode, Tag: tag, LogDir: o.LogDir})
	if err != nil {
		return tr, err
	}
	defer qc.stop()
	type nodeStart struct {
		cpu  procstat.Sample
		stat cpuStat
	}
	starts := make([]nodeStart, len(qc.nodes))
	for i, p := range qc.nodes {
		starts[i].cpu, _ = procstat.Read(p.cmd.Process.Pid)
		starts[i].stat, _ = p.group.stat()
	}
	began := time.Now()
	opts := o.Run
	opts.Scenario = scn
	opts.Target = Target{URL: "ws" + strings.TrimPrefix(qc.gateway.http, "http"), APIKey: devAPIKey, APISecret: devAPISecret}
	opts.ServerPID = 0
	opts.Progress = nil
	r, runErr := Run(ctx, opts)
	wall := time.Since(began)
	tr.Pass, tr.Reason = trialVerdict(r, runErr, o.LossMaxPercent, o.LatencyP99MaxMs)
	if r != nil {
		tr.Result = r
		tr.LossPercent, tr.LatencyP50Ms, tr.LatencyP99Ms = r.LossPercent, r.Latency.P50, r.Latency.P99
		tr.JoinsFailed, tr.Placed, tr.LoadAverage = r.Joins.Failed, r.Nodes, r.LoadAverage
		tr.TesterCPU = r.Tester.CPUPercent
	}
	client := &http.Client{Timeout: 3 * time.Second}
	for i, p := range qc.nodes {
		ns := NodeStat{Node: p.id}
		if s, err := procstat.Read(p.cmd.Process.Pid); err == nil {
			ns.CPUSeconds = (s.CPU - starts[i].cpu.CPU).Seconds()
			ns.CPUPercent = 100 * ns.CPUSeconds / wall.Seconds()
		}
		if st, err := p.group.stat(); err == nil {
			d := st.sub(starts[i].stat)
			if d.Periods > 0 {
				ns.ThrottledPercent = 100 * float64(d.Throttled) / float64(d.Periods)
			}
		}
		m, err := scrapeSums(ctx, client, p.metrics, "atrium_sfu_media_packets_out_total",
			"atrium_relay_packets_out_total", "atrium_relay_packets_in_total")
		if err == nil {
			ns.MediaPacketsOut = m["atrium_sfu_media_packets_out_total"]
			ns.RelayPacketsOut = m["atrium_relay_packets_out_total"]
			ns.RelayPacketsIn = m["atrium_relay_packets_in_total"]
			if ns.MediaPacketsOut > 0 {
				ns.MicrosPerPacket = ns.CPUSeconds * 1e6 / ns.MediaPacketsOut
			}
		}
		tr.NodeStats = append(tr.NodeStats, ns)
	}
	return tr, nil
}

// WriteTable prints the search, trial by trial, and the verdict.
func (r *ScaleOutResult) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "scale-out: lecture, each node %.2f core(s); criteria loss <= %.2f%%, latency p99 <= %.0f ms; %s video %d b/s %d fps, simulcast %v; trials of %.0f s\n",
		r.NodeQuotaCores, r.LossMaxPercent, r.LatencyP99MaxMs, r.Video.Codec, r.Video.Bitrate, r.Video.FPS, r.Video.Simulcast, r.TrialDurationS)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "nodes\tstudents\tverdict\tloss %\tp50 ms\tp99 ms\tload\tplaced\tnode cpu % (throttled %)\tµs/pkt out\trelay pkts out/in")
	for _, c := range r.Clusters {
		for _, t := range c.Trials {
			var cpu, us, rel []string
			for _, ns := range t.NodeStats {
				cpu = append(cpu, fmt.Sprintf("%s %.0f (%.0f)", ns.Node, ns.CPUPercent, ns.ThrottledPercent))
				us = append(us, fmt.Sprintf("%.1f", ns.MicrosPerPacket))
				rel = append(rel, fmt.Sprintf("%.0f/%.0f", ns.RelayPacketsOut, ns.RelayPacketsIn))
			}
			fmt.Fprintf(tw, "%d\t%d\t%s\t%.3f\t%.1f\t%.1f\t%.2f\t%s\t%s\t%s\t%s\n", c.Nodes, t.Students, verdictWord(t),
				t.LossPercent, t.LatencyP50Ms, t.LatencyP99Ms, t.LoadAverage, placedString(t.Placed),
				strings.Join(cpu, ", "), strings.Join(us, " "), strings.Join(rel, " "))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range r.Clusters {
		fmt.Fprintf(w, "%d node(s): at most %d students within the criteria\n", c.Nodes, c.MaxStudents)
	}
	if r.Ratio > 0 {
		fmt.Fprintf(w, "ratio largest/smallest cluster: %.2fx\n", r.Ratio)
	}
	fmt.Fprintf(w, "load average before %s, after %s\n", r.LoadBefore, r.LoadAfter)
	for _, warn := range r.Warnings {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return nil
}

func placedString(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s:%d", k, m[k]))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, " ")
}
