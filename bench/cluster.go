package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atrium-live/atrium/bench/procstat"
)

// ClusterOptions spread one scenario over many rooms of a cluster.
type ClusterOptions struct {
	// Run is the scenario of each room and the target (a gateway, or any node). Its
	// Scenario.JoinRate is the total over all rooms; Room, ServerPID, Progress and
	// OwnerURL are set per room.
	Run   Options
	Rooms int // rooms to spread, >= 1
	// CompareDirect adds to each room, for every subscribe-only group, a twin group of the
	// same size that joins the owner node directly, and runs join-response probes on both
	// paths: what the proxied signal path adds.
	CompareDirect bool
	// Probes is the number of signal-only join probes per room and path (CompareDirect
	// only); 0: 5.
	Probes int
	// ProbeBudget bounds how long the probes may take; 0: half of what is left of the run
	// after the joins, so that a steady window remains on a slow machine. A longer budget
	// finishes every probe on a starved machine at the cost of the steady window.
	ProbeBudget time.Duration
	// ProcessPIDs maps a label to a process to sample from /proc: a node id (one node per
	// process), or any label for a process that holds several nodes (atrium dev
	// --sfu-nodes runs every node and the gateway in one).
	ProcessPIDs map[string]int
	// PollInterval is how often the target's /admin/cluster is read; 0: 1 s.
	PollInterval time.Duration
	// RoomPrefix names the rooms PREFIX-r00, PREFIX-r01...; "": bench-<random>.
	RoomPrefix string
	Progress   io.Writer    // a line per poll; nil: none
	HTTPClient *http.Client // nil: a client with a 5 s timeout
}

// ClusterResult is what a cluster run measured.
type ClusterResult struct {
	Target    string    `json:"target"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`
	// SteadyFromS and SteadyToS bound (seconds from the start) the window over which node
	// loads and process CPU are reported: every room joined (and probed), until the first
	// room ends.
	SteadyFromS float64 `json:"steady_from_s"`
	SteadyToS   float64 `json:"steady_to_s"`
	RoomCount   int     `json:"room_count"`
	// Scenario is the per-room scenario (with the direct twin groups, if any).
	Scenario     string `json:"scenario"`
	Participants int    `json:"participants_per_room"`

	Nodes      []NodeResult        `json:"nodes"`
	Processes  []ProcessResult     `json:"processes,omitempty"`
	Totals     ClusterTotals       `json:"totals"`
	SignalPath *SignalPathResult   `json:"signal_path,omitempty"`
	Rooms      []ClusterRoomResult `json:"rooms"`
	Tester     TesterResult        `json:"tester"`
	// LoadAverage is the machine's 1-minute load average at the end.
	LoadAverage float64  `json:"load_average"`
	Warnings    []string `json:"warnings,omitempty"`
}

// NodeResult is one SFU node: where the run's rooms landed (from the join responses) and
// the load the node reported through gossip (from /admin/cluster of the target).
type NodeResult struct {
	ID    string `json:"id"`
	URL   string `json:"url"`
	State string `json:"state"`
	// BenchRooms and BenchParticipants are this run's rooms and participants whose join
	// response named this node.
	BenchRooms        int `json:"bench_rooms"`
	BenchParticipants int `json:"bench_participants"`
	// Reported is the node's own load report over the steady window; nil if no sample fell
	// in it.
	Reported *NodeLoad `json:"reported,omitempty"`
}

// NodeLoad summarises a node's gossiped load samples. Rooms, participants and tracks are
// the node's own counts (every room it runs, not only this run's); CPU is the share of
// the node's process CPU budget (GOMAXPROCS) in use, so nodes sharing one process all
// report that process's figure.
type NodeLoad struct {
	Samples         int     `json:"samples"`
	RoomsMax        int     `json:"rooms_max"`
	ParticipantsMax int     `json:"participants_max"`
	TracksMax       int     `json:"tracks_max"`
	CPUPercentMean  float64 `json:"cpu_percent_of_budget_mean"`
	CPUPercentMax   float64 `json:"cpu_percent_of_budget_max"`
	PacketsPerSMean float64 `json:"forwarded_packets_per_s_mean"`
}

// ProcessResult is one sampled process (ClusterOptions.ProcessPIDs) over the steady window.
type ProcessResult struct {
	Label      string  `json:"label"`
	PID        int     `json:"pid"`
	CPUSeconds float64 `json:"cpu_s"`
	CPUPercent float64 `json:"cpu_percent"` // 100 = one core
	PeakRSS    int64   `json:"peak_rss_bytes"`
}

// ClusterTotals are the usual figures over every room.
type ClusterTotals struct {
	Participants     int         `json:"participants"`
	JoinsOK          int         `json:"joins_ok"`
	JoinsFailed      int         `json:"joins_failed"`
	NoMedia          int         `json:"subscribers_without_media"`
	Dropped          int         `json:"dropped"`
	WSToJoinedMs     Percentiles `json:"ws_to_joined_ms"`
	WSToFirstMediaMs Percentiles `json:"ws_to_first_media_ms"`
	LossPercent      float64     `json:"loss_percent"`
	// LatencyP50Max and LatencyP99Max are the worst room's one-way latency percentiles.
	LatencyP50Max  float64 `json:"latency_p50_ms_worst_room"`
	LatencyP99Max  float64 `json:"latency_p99_ms_worst_room"`
	BitrateIn      float64 `json:"bitrate_in_bps"`
	BitrateOut     float64 `json:"bitrate_out_bps"`
	PacketsOutPerS float64 `json:"packets_out_per_s"`
}

// ClusterRoomResult is one room: its node and its full Result.
type ClusterRoomResult struct {
	Name   string  `json:"name"`
	Node   string  `json:"node"`
	Error  string  `json:"error,omitempty"`
	Result *Result `json:"result,omitempty"`
}

// SignalPathResult compares joins through the target with joins straight to the owner.
type SignalPathResult struct {
	Target PathFigures `json:"target"`
	Direct PathFigures `json:"direct"`
	// Added is target minus direct: what the proxied path adds.
	Added PathFigures `json:"added"`
}

// PathFigures are one path's join times (ms): JoinResponse from signal-only probes,
// the other two from the rooms' subscribe-only participants.
type PathFigures struct {
	JoinResponseMs   Percentiles `json:"ws_to_join_response_ms"`
	WSToJoinedMs     Percentiles `json:"ws_to_joined_ms"`
	WSToFirstMediaMs Percentiles `json:"ws_to_first_media_ms"`
}

// RunCluster runs o.Rooms copies of the scenario, each in its own room, through the target;
// room i starts i/JoinRate after the first so that joins over all rooms keep JoinRate. It
// reads the target's /admin/cluster before (a target that is no cluster is an error) and
// every PollInterval during the run. The result is non-nil whenever rooms ran, also with
// an error that joins the rooms' errors.
func RunCluster(ctx context.Context, o ClusterOptions) (*ClusterResult, error) {
	if o.Rooms < 1 {
		return nil, fmt.Errorf("bench: --rooms %d: want at least 1", o.Rooms)
	}
	if err := o.Run.Target.Validate(); err != nil {
		return nil, err
	}
	if o.Run.RelayOnly != RelayNone || o.Run.TURNPID > 0 || o.Run.TURNMetricsURL != "" {
		return nil, errors.New("bench: --rooms does not combine with the TURN relay options")
	}
	if o.Run.ServerPID > 0 {
		return nil, errors.New("bench: with --rooms, name processes with ProcessPIDs (--node-pid) rather than ServerPID")
	}
	if o.Probes <= 0 {
		o.Probes = 5
	}
	if o.PollInterval <= 0 {
		o.PollInterval = time.Second
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	scn, err := clusterScenario(o.Run.Scenario, o.Rooms, o.CompareDirect)
	if err != nil {
		return nil, err
	}
	view, err := FetchCluster(ctx, o.HTTPClient, o.Run.Target)
	if err != nil {
		return nil, err
	}

	c := &clusterRun{o: o, scn: scn, view: view, start: time.Now()}
	prefix := o.RoomPrefix
	if prefix == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		prefix = "bench-" + hex.EncodeToString(b[:])
	}
	for i := range o.Rooms {
		c.rooms = append(c.rooms, &ClusterRoomResult{Name: fmt.Sprintf("%s-r%02d", prefix, i)})
	}
	if err := c.startProcesses(ctx); err != nil {
		return nil, err
	}
	defer c.stopProcesses()
	pollCtx, stopPoll := context.WithCancel(ctx)
	pollDone := make(chan struct{})
	go func() {
		defer close(pollDone)
		c.poll(pollCtx)
	}()

	// Rooms start one join interval apart; each keeps JoinRate/Rooms.
	interval := time.Duration(float64(time.Second) / o.Run.Scenario.JoinRate)
	var wg sync.WaitGroup
	for i, room := range c.rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !sleepCtx(ctx, time.Until(c.start.Add(time.Duration(i)*interval))) {
				room.Error = ctx.Err().Error()
				return
			}
			opts := o.Run
			opts.Scenario = scn
			opts.Scenario.Room = room.Name
			opts.Progress = nil
			opts.OwnerURL = c.ownerURL
			opts.DirectFirst = i%2 == 1
			opts.joinsDone = &c.joinsDone
			res, err := Run(ctx, opts)
			room.Result = res
			if err != nil {
				room.Error = err.Error()
			}
		}()
	}

	// Every room joined (the last starts (Rooms-1) intervals late and joins its
	// participants Rooms intervals apart), then the probes, then the steady window.
	ramp := time.Duration(o.Rooms-1)*interval + time.Duration(scn.Participants()*o.Rooms)*interval
	firstEnd := c.start.Add(scn.Duration)
	if sleepCtx(ctx, time.Until(c.start.Add(ramp))) {
		// On a slow machine joins finish well after their schedule: wait for them (at most
		// a third of what is left), then let the room settle.
		want := int64(o.Rooms * scn.Participants())
		deadline := time.Now().Add(time.Until(firstEnd) / 3)
		for c.joinsDone.Load() < want && time.Now().Before(deadline) && sleepCtx(ctx, 50*time.Millisecond) {
		}
		if n := c.joinsDone.Load(); n < want {
			c.warn(fmt.Sprintf("only %d of %d joins had finished %.1f s into the run: the steady window starts before the last ones",
				n, want, time.Since(c.start).Seconds()))
		}
	}
	if sleepCtx(ctx, settle) && o.CompareDirect {
		// The probes may take half of what is left, so that a steady window remains on a
		// slow machine.
		budget := (time.Until(firstEnd) - settle) / 2
		if o.ProbeBudget > 0 {
			budget = o.ProbeBudget
		}
		c.probe(ctx, time.Now().Add(budget))
	}
	c.probed = time.Now()
	c.steadyFrom = c.probed.Add(settle)
	if sleepCtx(ctx, time.Until(c.steadyFrom)) {
		c.markProcesses(0)
	}
	if sleepCtx(ctx, time.Until(firstEnd)) {
		c.markProcesses(1)
	}
	c.steadyTo = time.Now()
	wg.Wait()
	stopPoll()
	<-pollDone
	return c.result()
}

// clusterScenario is the per-room scenario: the join rate divided among the rooms and, to
// compare paths, a direct twin of each subscribe-only group.
func clusterScenario(s Scenario, rooms int, compareDirect bool) (Scenario, error) {
	s.Groups = append([]Group(nil), s.Groups...)
	s.JoinRate /= float64(rooms)
	if compareDirect {
		n := len(s.Groups)
		for _, g := range s.Groups[:n] {
			if g.Direct || g.PublishAudio || g.PublishVideo || !g.Subscribe || g.Count == 0 {
				continue
			}
			twin := g
			twin.Name, twin.Direct = g.Name+"-direct", true
			s.Groups = append(s.Groups, twin)
		}
		if len(s.Groups) == n && !s.hasDirect() {
			return Scenario{}, fmt.Errorf("bench: --compare-direct needs a subscribe-only group to mirror (scenario %q has none: try lecture or audio-room)", s.Name)
		}
	}
	if err := s.Validate(); err != nil {
		return Scenario{}, fmt.Errorf("bench: per-room scenario (join rate %.3g/s per room): %w", s.JoinRate, err)
	}
	return s, nil
}

type clusterRun struct {
	o     ClusterOptions
	scn   Scenario
	start time.Time
	rooms []*ClusterRoomResult

	probed               time.Time // the ramp (and the probes) done
	steadyFrom, steadyTo time.Time

	procs []*procSample

	mu       sync.Mutex
	view     *ClusterView // the latest read
	samples  []viewSample
	pollErr  error
	pollErrs int
	probes   map[string][]time.Duration // path -> join response times
	probeErr error
	warnings []string

	joinsDone atomic.Int64 // over every room
}

func (c *clusterRun) warn(w string) {
	c.mu.Lock()
	c.warnings = append(c.warnings, w)
	c.mu.Unlock()
}

type viewSample struct {
	at   time.Time
	view *ClusterView
}

type procSample struct {
	label   string
	pid     int
	sampler *procstat.Sampler
	marks   [2]procstat.Summary
	marked  [2]bool
}

// ownerURL resolves a node id to its ws URL from the latest view, reading a fresh one if
// the node is not in it (it may have joined since).
func (c *clusterRun) ownerURL(ctx context.Context, node string) (string, error) {
	c.mu.Lock()
	m, ok := c.view.Member(node)
	c.mu.Unlock()
	if !ok {
		v, err := FetchCluster(ctx, c.o.HTTPClient, c.o.Run.Target)
		if err != nil {
			return "", err
		}
		c.mu.Lock()
		c.view = v
		c.mu.Unlock()
		if m, ok = v.Member(node); !ok {
			return "", fmt.Errorf("node %q is not a member the target knows", node)
		}
	}
	return wsBase(m.SignalURL)
}

func (c *clusterRun) poll(ctx context.Context) {
	t := time.NewTicker(c.o.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		v, err := FetchCluster(ctx, c.o.HTTPClient, c.o.Run.Target)
		now := time.Now()
		c.mu.Lock()
		if err != nil {
			if ctx.Err() == nil {
				c.pollErrs++
				if c.pollErr == nil {
					c.pollErr = err
				}
			}
		} else {
			c.view = v
			c.samples = append(c.samples, viewSample{at: now, view: v})
		}
		c.mu.Unlock()
		if err == nil && c.o.Progress != nil {
			fmt.Fprintf(c.o.Progress, "[%4.0fs] %s\n", now.Sub(c.start).Seconds(), progressLine(v))
		}
	}
}

// progressLine is one poll's per-node rooms, participants and CPU.
func progressLine(v *ClusterView) string {
	s := ""
	for i, m := range v.SFUs() {
		if i > 0 {
			s += " | "
		}
		s += fmt.Sprintf("%s %s: %d rooms %d parts cpu %.0f%%", m.NodeID, m.State, m.Load.Rooms,
			m.Load.Participants, 100*m.Load.CPU)
	}
	return s
}

// probe measures join responses on both paths in every room, alternating which path goes
// first, one probe at a time, until done or deadline.
func (c *clusterRun) probe(ctx context.Context, deadline time.Time) {
	c.probes = map[string][]time.Duration{}
	t := c.o.Run.Target
	for i := range c.o.Probes {
		for _, room := range c.rooms {
			if time.Now().After(deadline) || ctx.Err() != nil {
				c.noteProbeErr(errors.New("probes cut short: the run ends"))
				return
			}
			first := i%2 == 0
			// The direct URL comes from the target probe's join response: run it first
			// once to learn the node, then alternate.
			target, err := c.probeOne(ctx, t.URL, room.Name, fmt.Sprintf("probe-t-%d", i))
			if err != nil {
				c.noteProbeErr(err)
				continue
			}
			url, err := c.ownerURL(ctx, target.NodeID)
			if err != nil {
				c.noteProbeErr(err)
				continue
			}
			direct, err := c.probeOne(ctx, url, room.Name, fmt.Sprintf("probe-d-%d", i))
			if err != nil {
				c.noteProbeErr(err)
				continue
			}
			if !first { // the second of the pair, to cancel any order effect
				if target, err = c.probeOne(ctx, t.URL, room.Name, fmt.Sprintf("probe-t2-%d", i)); err != nil {
					c.noteProbeErr(err)
					continue
				}
			}
			c.probes[PathTarget] = append(c.probes[PathTarget], target.JoinResponse)
			c.probes[PathDirect] = append(c.probes[PathDirect], direct.JoinResponse)
		}
	}
}

func (c *clusterRun) probeOne(ctx context.Context, url, room, identity string) (JoinProbe, error) {
	tok, err := probeToken(c.o.Run.Target, room, identity)
	if err != nil {
		return JoinProbe{}, err
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return ProbeJoin(pctx, url, tok)
}

func (c *clusterRun) noteProbeErr(err error) {
	if c.probeErr == nil {
		c.probeErr = err
	}
}

func (c *clusterRun) startProcesses(ctx context.Context) error {
	labels := make([]string, 0, len(c.o.ProcessPIDs))
	for l := range c.o.ProcessPIDs {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		pid := c.o.ProcessPIDs[l]
		s, err := procstat.Start(ctx, pid, 250*time.Millisecond)
		if err != nil {
			c.stopProcesses()
			return fmt.Errorf("bench: process %s (pid %d): %w", l, pid, err)
		}
		c.procs = append(c.procs, &procSample{label: l, pid: pid, sampler: s})
	}
	return nil
}

// markProcesses records every process's counters at the start (0) or end (1) of the
// steady window.
func (c *clusterRun) markProcesses(i int) {
	for _, p := range c.procs {
		p.marks[i], p.marked[i] = p.sampler.Now(), true
	}
}

func (c *clusterRun) stopProcesses() {
	for _, p := range c.procs {
		_, _ = p.sampler.Stop()
	}
}
