package bench

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/atrium-live/atrium/bench/procstat"
	"github.com/atrium-live/atrium/bench/stats"
	"github.com/atrium-live/atrium/pkg/cluster"
)

// minSteady is the shortest steady window worth reporting loads over.
const minSteady = time.Second

// result gathers the rooms, samples and probes into a ClusterResult, and the rooms' errors.
func (c *clusterRun) result() (*ClusterResult, error) {
	end := time.Now()
	res := &ClusterResult{Target: c.o.Run.Target.URL, StartedAt: c.start, DurationS: end.Sub(c.start).Seconds(),
		RoomCount: len(c.rooms), Scenario: c.scn.Name, Participants: c.scn.Participants(),
		LoadAverage: procstat.LoadAverage()}
	from, to := c.steadyFrom, c.steadyTo
	wholeRun := to.Sub(from) < minSteady
	if wholeRun {
		// Node loads from the end of the ramp and probes (probe participants would count
		// otherwise), process CPU over the whole run.
		from, to = c.probed, end
		res.Warnings = append(res.Warnings, "no steady window (the run is too short for the ramp and the probes): node loads cover the end of the run, process CPU the whole run")
	}
	res.SteadyFromS, res.SteadyToS = from.Sub(c.start).Seconds(), to.Sub(c.start).Seconds()

	// Rooms, and where they landed.
	var errs []error
	var all joinSamples
	paths := map[string]*joinSamples{}
	placed := map[string][2]int{} // node -> rooms, participants
	var expected, lost uint64
	roomWarn := map[string]int{} // warning with its figures blanked -> rooms
	var roomWarnFirst []string
	ran := 0
	for _, room := range c.rooms {
		if room.Error != "" {
			errs = append(errs, fmt.Errorf("room %s: %s", room.Name, room.Error))
		}
		r := room.Result
		if r == nil {
			continue
		}
		ran++
		room.Node = majorityNode(r.Nodes)
		if len(r.Nodes) > 1 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("room %s: participants landed on several nodes %v: one room split", room.Name, r.Nodes))
		}
		for node, n := range r.Nodes {
			p := placed[node]
			p[1] += n
			placed[node] = p
		}
		if room.Node != "" {
			p := placed[room.Node]
			p[0]++
			placed[room.Node] = p
		}
		t := &res.Totals
		t.Participants += r.Participants
		t.JoinsOK += r.Joins.OK
		t.JoinsFailed += r.Joins.Failed
		t.NoMedia += r.Joins.NoMedia
		t.Dropped += r.Joins.Dropped
		t.LatencyP50Max = max(t.LatencyP50Max, r.Latency.P50)
		t.LatencyP99Max = max(t.LatencyP99Max, r.Latency.P99)
		t.BitrateIn += r.BitrateIn
		t.BitrateOut += r.BitrateOut
		t.PacketsOutPerS += r.PacketsOutPerS
		expected += r.Audio.Expected + r.Video.Expected
		lost += r.Audio.Lost + r.Video.Lost
		all.add(&r.joinAll)
		for p, s := range r.joinPath {
			if paths[p] == nil {
				paths[p] = &joinSamples{}
			}
			paths[p].add(s)
		}
		// The tester is this process: every room measured the same one.
		if r.Tester.CPUPercent >= res.Tester.CPUPercent {
			res.Tester = r.Tester
		}
		for _, w := range r.Warnings {
			k := warningKind(w)
			if roomWarn[k] == 0 {
				roomWarnFirst = append(roomWarnFirst, w)
			}
			roomWarn[k]++
		}
	}
	for _, w := range roomWarnFirst {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d of %d rooms: %s", roomWarn[warningKind(w)], len(c.rooms), w))
	}
	res.Totals.WSToJoinedMs = percentilesOf(all.wsJoined)
	res.Totals.WSToFirstMediaMs = percentilesOf(all.wsFirst)
	res.Totals.LossPercent = stats.LossPercent(expected, expected-lost)

	// Nodes: every SFU the target knew at some point, with their loads in the window.
	c.mu.Lock()
	samples := append([]viewSample(nil), c.samples...)
	last := c.view
	pollErr, pollErrs := c.pollErr, c.pollErrs
	probes, probeErr := c.probes, c.probeErr
	res.Warnings = append(res.Warnings, c.warnings...)
	c.mu.Unlock()
	res.Nodes = nodeResults(last, samples, from, to, placed)
	if pollErr != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d reads of /admin/cluster failed, first: %v", pollErrs, pollErr))
	}
	if oneHost(res.Nodes) {
		res.Warnings = append(res.Warnings, "every node runs on one host: their CPU figures share its CPUs, and nodes in one process (atrium dev --sfu-nodes) each report that whole process's CPU; per-node load is then rooms, participants and forwarded packets")
	}

	// Processes.
	for _, p := range c.procs {
		a, b := p.marks[0], p.marks[1]
		if wholeRun || !p.marked[0] || !p.marked[1] {
			a, b = procstat.Summary{}, p.sampler.Now()
		}
		pr := ProcessResult{Label: p.label, PID: p.pid, CPUSeconds: (b.CPU - a.CPU).Seconds(), PeakRSS: b.PeakRSS}
		w := to.Sub(from).Seconds()
		if wholeRun {
			w = b.Wall.Seconds()
		}
		if w > 0 {
			pr.CPUPercent = 100 * pr.CPUSeconds / w
		}
		res.Processes = append(res.Processes, pr)
	}

	// Signal paths.
	if c.o.CompareDirect {
		sp := &SignalPathResult{}
		fill := func(f *PathFigures, path string) {
			s := paths[path]
			if s == nil {
				s = &joinSamples{}
			}
			f.JoinResponseMs = percentilesOf(probes[path])
			f.WSToJoinedMs = percentilesOf(s.wsJoined)
			f.WSToFirstMediaMs = percentilesOf(s.wsFirst)
		}
		fill(&sp.Target, PathTarget)
		fill(&sp.Direct, PathDirect)
		sp.Added = PathFigures{JoinResponseMs: diffPercentiles(sp.Target.JoinResponseMs, sp.Direct.JoinResponseMs),
			WSToJoinedMs:     diffPercentiles(sp.Target.WSToJoinedMs, sp.Direct.WSToJoinedMs),
			WSToFirstMediaMs: diffPercentiles(sp.Target.WSToFirstMediaMs, sp.Direct.WSToFirstMediaMs)}
		res.SignalPath = sp
		if probeErr != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("join probes: %v", probeErr))
		}
	}
	res.Rooms = make([]ClusterRoomResult, len(c.rooms))
	for i, r := range c.rooms {
		res.Rooms[i] = *r
	}
	err := errors.Join(errs...)
	if ran == 0 {
		return res, fmt.Errorf("bench: no room ran: %w", err)
	}
	return res, err
}

// warningKind is w with its digits dropped: the same warning from several rooms, with
// different figures, is one kind.
func warningKind(w string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' || r == '.' {
			return -1
		}
		return r
	}, w)
}

// majorityNode is the node most of a room's participants landed on ("" if none named).
func majorityNode(nodes map[string]int) string {
	best, bestN := "", 0
	for id, n := range nodes {
		if n > bestN || (n == bestN && id < best) {
			best, bestN = id, n
		}
	}
	return best
}

// nodeResults lists the SFU members of the last view (and any node the rooms landed on
// that it lacks), with the bench's placement and the gossiped loads sampled in [from, to].
func nodeResults(last *ClusterView, samples []viewSample, from, to time.Time, placed map[string][2]int) []NodeResult {
	byID := map[string]*NodeResult{}
	var order []string
	add := func(m cluster.Meta) *NodeResult {
		if n := byID[m.NodeID]; n != nil {
			return n
		}
		n := &NodeResult{ID: m.NodeID, URL: m.SignalURL, State: string(m.State)}
		byID[m.NodeID] = n
		order = append(order, m.NodeID)
		return n
	}
	if last != nil {
		for _, m := range last.SFUs() {
			add(m)
		}
	}
	type acc struct {
		load       NodeLoad
		cpu, pps   float64
		hasSamples bool
	}
	accs := map[string]*acc{}
	for _, s := range samples {
		if s.at.Before(from) || s.at.After(to) {
			continue
		}
		for _, m := range s.view.SFUs() {
			add(m)
			a := accs[m.NodeID]
			if a == nil {
				a = &acc{}
				accs[m.NodeID] = a
			}
			l := &a.load
			l.Samples++
			l.RoomsMax = max(l.RoomsMax, m.Load.Rooms)
			l.ParticipantsMax = max(l.ParticipantsMax, m.Load.Participants)
			l.TracksMax = max(l.TracksMax, m.Load.Tracks)
			l.CPUPercentMax = max(l.CPUPercentMax, 100*m.Load.CPU)
			a.cpu += 100 * m.Load.CPU
			a.pps += m.Load.PacketsPerSec
		}
	}
	for id := range placed {
		if byID[id] == nil {
			add(cluster.Meta{NodeID: id})
		}
	}
	sort.Strings(order)
	out := make([]NodeResult, 0, len(order))
	for _, id := range order {
		n := *byID[id]
		n.BenchRooms, n.BenchParticipants = placed[id][0], placed[id][1]
		if a := accs[id]; a != nil {
			l := a.load
			l.CPUPercentMean = a.cpu / float64(l.Samples)
			l.PacketsPerSMean = a.pps / float64(l.Samples)
			n.Reported = &l
		}
		out = append(out, n)
	}
	return out
}

// oneHost reports whether two or more nodes advertise the same host: their CPU figures
// then share the host's CPUs (or, with atrium dev --sfu-nodes, one process).
func oneHost(nodes []NodeResult) bool {
	hosts := map[string]bool{}
	n := 0
	for _, node := range nodes {
		u, err := url.Parse(node.URL)
		if err != nil || u.Hostname() == "" {
			continue
		}
		hosts[u.Hostname()] = true
		n++
	}
	return n >= 2 && len(hosts) == 1
}

// diffPercentiles is a - b (N is the smaller sample count); zero when either is empty.
func diffPercentiles(a, b Percentiles) Percentiles {
	if a.N == 0 || b.N == 0 {
		return Percentiles{}
	}
	return Percentiles{N: min(a.N, b.N), P50: a.P50 - b.P50, P95: a.P95 - b.P95, P99: a.P99 - b.P99}
}

// WriteTable prints the cluster run: nodes, processes, totals, signal paths, rooms.
func (res *ClusterResult) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p := func(format string, a ...any) { fmt.Fprintf(tw, format+"\n", a...) }
	p("cluster\t%s\t%d rooms of %s, %d participants each\t", res.Target, res.RoomCount, res.Scenario, res.Participants)
	p("duration\t%.1f s\tsteady window %.1f..%.1f s\t", res.DurationS, res.SteadyFromS, res.SteadyToS)
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p("\t\t\t\t\t\t\t")
	p("node\tstate\tbench rooms\tbench parts\treported rooms\treported parts\tcpu mean/max (of budget)\tfwd pkt/s")
	for _, n := range res.Nodes {
		rep := "-\t-\t-\t-"
		if l := n.Reported; l != nil {
			rep = fmt.Sprintf("%d\t%d\t%.0f%% / %.0f%%\t%s", l.RoomsMax, l.ParticipantsMax, l.CPUPercentMean, l.CPUPercentMax, si(l.PacketsPerSMean))
		}
		p("%s\t%s\t%d\t%d\t%s", n.ID, n.State, n.BenchRooms, n.BenchParticipants, rep)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, pr := range res.Processes {
		p("process %s\tpid %d\tcpu %.2f s\t%.0f%% of a core\tpeak rss %s", pr.Label, pr.PID, pr.CPUSeconds, pr.CPUPercent, bytesIEC(pr.PeakRSS))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	t := res.Totals
	p("\t\t\t")
	p("joins ok / failed\t%d / %d\tno media %d, dropped %d", t.JoinsOK, t.JoinsFailed, t.NoMedia, t.Dropped)
	pc := func(name string, x Percentiles) {
		p("%s (ms)\tp50 %.1f\tp95 %.1f\tp99 %.1f", name, x.P50, x.P95, x.P99)
	}
	pc("join ws->joined", t.WSToJoinedMs)
	pc("join ws->media", t.WSToFirstMediaMs)
	p("loss overall\t%.3f%%\t\t", t.LossPercent)
	p("latency ms, worst room\tp50 %.2f\tp99 %.2f\t", t.LatencyP50Max, t.LatencyP99Max)
	p("bitrate in / out\t%s / %s b/s\t\t", si(t.BitrateIn), si(t.BitrateOut))
	p("packets out\t%s pkt/s\t\t", si(t.PacketsOutPerS))
	p("tester cpu\t%.0f%% of %d core(s)\tsaturated %v\t", res.Tester.CPUPercent, res.Tester.Cores, res.Tester.Saturated)
	p("tester waiting for cpu\t%.0f%%\tload average %.1f\t", res.Tester.WaitPercent, res.LoadAverage)
	if err := tw.Flush(); err != nil {
		return err
	}
	if sp := res.SignalPath; sp != nil {
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		p("\t\t\t\t")
		p("signal path (ms)\tthrough target p50 / p95\tdirect to owner p50 / p95\tadded p50 / p95\tn target / direct")
		row := func(name string, f func(*PathFigures) Percentiles) {
			a, b, d := f(&sp.Target), f(&sp.Direct), f(&sp.Added)
			p("%s\t%.1f / %.1f\t%.1f / %.1f\t%+.1f / %+.1f\t%d / %d", name, a.P50, a.P95, b.P50, b.P95, d.P50, d.P95, a.N, b.N)
		}
		row("ws->join response", func(f *PathFigures) Percentiles { return f.JoinResponseMs })
		row("ws->joined (ICE up)", func(f *PathFigures) Percentiles { return f.WSToJoinedMs })
		row("ws->first media", func(f *PathFigures) Percentiles { return f.WSToFirstMediaMs })
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	p("\t\t\t\t\t")
	p("room\tnode\tjoins ok/failed\tloss\tlatency p50/p99 ms\tws->media p50 ms")
	for _, r := range res.Rooms {
		if r.Result == nil {
			p("%s\t-\t-\t-\t-\t%s", r.Name, r.Error)
			continue
		}
		x := r.Result
		p("%s\t%s\t%d/%d\t%.3f%%\t%.2f / %.2f\t%.1f", r.Name, r.Node, x.Joins.OK, x.Joins.Failed, x.LossPercent,
			x.Latency.P50, x.Latency.P99, x.Joins.WSToFirstMediaMs.P50)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, warn := range res.Warnings {
		if _, err := fmt.Fprintf(w, "WARNING: %s\n", strings.TrimSpace(warn)); err != nil {
			return err
		}
	}
	for _, r := range res.Rooms {
		if r.Error != "" {
			if _, err := fmt.Fprintf(w, "room %s: %s\n", r.Name, r.Error); err != nil {
				return err
			}
		}
	}
	return nil
}
