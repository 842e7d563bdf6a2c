package bench

import (
	"fmt"
	"runtime"
	"sort"
	"time"

	"github.com/atrium-live/atrium/bench/procstat"
	"github.com/atrium-live/atrium/bench/stats"
)

// Result is everything one run measured. Durations are in milliseconds, rates per second,
// sizes in bytes, as the JSON names say.
type Result struct {
	Scenario  string    `json:"scenario"`
	Server    string    `json:"server"`
	Room      string    `json:"room"`
	StartedAt time.Time `json:"started_at"`
	DurationS float64   `json:"duration_s"`
	// SteadyS is the window, from settle after the last join to the end, over which rates,
	// CPU and per-packet costs are computed (the whole run when there was none).
	SteadyS      float64 `json:"steady_window_s"`
	Participants int     `json:"participants"`
	Publishers   int     `json:"publishers"`
	Subscribers  int     `json:"subscribers"`
	// Feedback is the RTCP the subscribers sent (browser, sdk, none).
	Feedback Feedback `json:"subscriber_feedback"`
	// Lean is set when subscribers were lean clients (bench/leansub, Options.Lean).
	Lean bool `json:"lean_subscribers,omitempty"`

	Joins Joins      `json:"joins"`
	Audio KindResult `json:"audio"`
	Video KindResult `json:"video"`

	LossPercent float64 `json:"loss_percent"`
	Latency     Latency `json:"latency_ms"`
	JitterMs    float64 `json:"jitter_ms"`

	BitrateIn      float64 `json:"bitrate_in_bps"`  // sent by publishers, steady window
	BitrateOut     float64 `json:"bitrate_out_bps"` // received by subscribers, steady window
	PacketsInPerS  float64 `json:"packets_in_per_s"`
	PacketsOutPerS float64 `json:"packets_out_per_s"`
	// FullQualityPacketsPerS is what one subscriber receives per second when it gets every
	// published track at the top layer: the demand that density extrapolations use.
	FullQualityPacketsPerS float64 `json:"full_quality_packets_per_subscriber_per_s"`

	KeyframeRequests uint64 `json:"keyframe_requests"` // PLI/FIR received by publishers
	Keyframes        uint64 `json:"keyframes_sent"`

	// LoadAverage is the machine's 1-minute load average at the end: above the number of
	// CPUs, other processes compete with the server and the tester.
	LoadAverage   float64       `json:"load_average"`
	ServerProcess *ServerResult `json:"server_process,omitempty"`
	// Relay is set when participants were relay-only (Options.RelayOnly).
	Relay    *RelayResult `json:"turn_relay,omitempty"`
	Tester   TesterResult `json:"tester"`
	Warnings []string     `json:"warnings,omitempty"`

	// Nodes counts the participants that joined by the node id the server named in its
	// join response (ServerInfo.NodeId): where a cluster placed the room. Empty when the
	// server names none.
	Nodes map[string]int `json:"server_nodes,omitempty"`
	// Paths splits subscriber join times by signal path (target, direct) when some
	// groups joined the owner node directly (Group.Direct).
	Paths []PathJoins `json:"signal_paths,omitempty"`

	// Raw join samples, for merging several rooms (RunCluster): all joins, and subscribers
	// by path.
	joinAll  joinSamples
	joinPath map[string]*joinSamples
}

// Joins reports join outcomes and times.
type Joins struct {
	OK     int      `json:"ok"`
	Failed int      `json:"failed"`
	Errors []string `json:"errors,omitempty"` // up to 5 distinct
	// WebSocket dial start -> joined (join response, ICE, publications done).
	WSToJoinedMs Percentiles `json:"ws_to_joined_ms"`
	// joined -> first media packet received, for subscribing participants.
	JoinedToFirstMediaMs Percentiles `json:"joined_to_first_media_ms"`
	// WebSocket dial start -> first media packet received.
	WSToFirstMediaMs Percentiles `json:"ws_to_first_media_ms"`
	NoMedia          int         `json:"subscribers_without_media"`
	// Dropped counts participants the server disconnected before the end of the run.
	Dropped    int    `json:"dropped"`
	DropReason string `json:"drop_reason,omitempty"` // the first one
}

// Percentiles of a small exact sample set.
type Percentiles struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// Latency is one-way latency publisher -> server -> subscriber, in milliseconds.
type Latency struct {
	Samples uint64  `json:"samples"`
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
	Mean    float64 `json:"mean"`
}

// KindResult is the media of one kind (audio or video).
type KindResult struct {
	SentPackets     uint64  `json:"sent_packets"` // all simulcast layers
	SentBytes       uint64  `json:"sent_bytes"`
	ReceivedPackets uint64  `json:"received_packets"` // over all subscribers
	ReceivedBytes   uint64  `json:"received_bytes"`
	Tracks          int     `json:"subscribed_tracks"`
	Expected        uint64  `json:"expected_packets"` // from stamped sequences
	Lost            uint64  `json:"lost_packets"`
	LossPercent     float64 `json:"loss_percent"`
	Duplicates      uint64  `json:"duplicate_packets"`
	// UndeliveredAtEnd is the part of Lost sent after the last packet a still-subscribed
	// track received: a server that stalls or dies mid-run shows up here.
	UndeliveredAtEnd uint64  `json:"undelivered_at_end"`
	Unstamped        uint64  `json:"unstamped_packets,omitempty"`
	Padding          uint64  `json:"padding_packets,omitempty"`
	Latency          Latency `json:"latency_ms"`
	JitterMs         float64 `json:"jitter_ms"` // mean over tracks
	// FanoutSkew compares the median latency of the first and the last tenth of the
	// subscribers in join order: an SFU that sends to its subscribers one after the other
	// makes the last ones wait for everybody else's sends.
	FanoutSkew *FanoutSkew `json:"fanout_skew,omitempty"`
}

// FanoutSkew is the p50 latency (ms) of the earliest- and latest-joined tenth of the
// subscribers of one kind, and the spread of per-subscriber p50s.
type FanoutSkew struct {
	FirstTenthP50 float64 `json:"first_tenth_p50"`
	LastTenthP50  float64 `json:"last_tenth_p50"`
	MinP50        float64 `json:"min_subscriber_p50"`
	MaxP50        float64 `json:"max_subscriber_p50"`
}

// ServerResult is the server process's cost, from /proc.
type ServerResult struct {
	PID              int     `json:"pid"`
	CPUSeconds       float64 `json:"cpu_s"`       // steady window
	CPUPercent       float64 `json:"cpu_percent"` // steady window; 100 = one core
	CPUSecondsTotal  float64 `json:"cpu_s_total"` // whole run, joins included
	PeakRSS          int64   `json:"peak_rss_bytes"`
	RSSGrowth        int64   `json:"rss_growth_bytes"` // peak minus at start
	RSSPerSubscriber int64   `json:"rss_per_subscriber_bytes"`
	// Forwarded packets (received by subscribers) per server CPU-second, steady window.
	ForwardedPerCPUSecond float64 `json:"forwarded_packets_per_cpu_s"`
	CPUMicrosPerPacket    float64 `json:"cpu_us_per_forwarded_packet"`
	// WaitPercent is the time its threads waited for a CPU, per wall second (steady window).
	WaitPercent float64 `json:"runqueue_wait_percent"`
}

// TesterResult is the tester's own cost: when it is saturated, the figures measure the
// tester rather than the server.
type TesterResult struct {
	CPUSeconds float64 `json:"cpu_s"`
	CPUPercent float64 `json:"cpu_percent"` // steady window; 100 = one core
	Cores      int     `json:"cores"`       // CPUs it may run on (taskset)
	Saturated  bool    `json:"saturated"`
	// WaitPercent is the time its threads waited for a CPU, per wall second: high when
	// other load on the machine starves it.
	WaitPercent float64 `json:"runqueue_wait_percent"`
}

// starvedPercent is the run-queue wait (per wall second) above which a process is said to
// be starved by other load.
const starvedPercent = 20

// fanoutSkew computes FanoutSkew over the tracks of one kind; nil with fewer than 10.
func fanoutSkew(tracks []*trackStats, kind int) *FanoutSkew {
	type sub struct {
		order int
		p50   time.Duration
	}
	var subs []sub
	for _, ts := range tracks {
		if ts.kind != kind {
			continue
		}
		ts.mu.Lock()
		if ts.latency.Count() > 0 {
			subs = append(subs, sub{ts.owner.order, ts.latency.Percentile(0.5)})
		}
		ts.mu.Unlock()
	}
	if len(subs) < 10 {
		return nil
	}
	sort.Slice(subs, func(i, j int) bool { return subs[i].order < subs[j].order })
	tenth := len(subs) / 10
	median := func(s []sub) float64 {
		d := make([]time.Duration, len(s))
		for i := range s {
			d[i] = s[i].p50
		}
		return ms(stats.Percentiles(d, 0.5)[0])
	}
	all := make([]time.Duration, len(subs))
	for i := range subs {
		all[i] = subs[i].p50
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	return &FanoutSkew{FirstTenthP50: median(subs[:tenth]), LastTenthP50: median(subs[len(subs)-tenth:]),
		MinP50: ms(all[0]), MaxP50: ms(all[len(all)-1])}
}

// starved reports whether a process was kept from running by other load: its threads
// waited for a CPU while it used clearly less than the CPUs it may run on. (Waiting while
// using all of them is its own threads queueing: saturation, not starvation.)
func starved(waitPercent, cpuPercent float64, cores int) bool {
	if cores <= 0 {
		cores = 1
	}
	return waitPercent > starvedPercent && cpuPercent < 80*float64(cores)
}

// saturation is the share of its cores above which the tester is said to be saturated.
const saturation = 0.85

type snapshot struct {
	at              time.Time
	sentPkts, sentB [2]uint64
	sentTop         uint64
	recvPkts, recvB [2]uint64
	server, tester  procstat.Summary
	hasServer       bool
	relayRecv       uint64         // counters.relayRecvPkts
	relay           *relaySnapshot // steady and final snapshots only, with a relay probe
}

func (r *run) snapshot(server, tester *procstat.Sampler) *snapshot {
	s := &snapshot{at: time.Now()}
	for k := range 2 {
		s.sentPkts[k] = r.cnt.sentPkts[k].Load()
		s.sentB[k] = r.cnt.sentBytes[k].Load()
		s.recvPkts[k] = r.cnt.recvPkts[k].Load()
		s.recvB[k] = r.cnt.recvBytes[k].Load()
	}
	s.sentTop = r.cnt.sentTopPkts.Load()
	s.relayRecv = r.cnt.relayRecvPkts.Load()
	if server != nil {
		s.server, s.hasServer = server.Now(), true
	}
	s.tester = tester.Now()
	return s
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func latencyOf(h *stats.Histogram) Latency {
	return Latency{Samples: h.Count(), P50: ms(h.Percentile(0.50)), P90: ms(h.Percentile(0.90)),
		P99: ms(h.Percentile(0.99)), Max: ms(h.Max()), Mean: ms(h.Mean())}
}

// pathJoins lists the paths' figures, target first.
func pathJoins(m map[string]*joinSamples) []PathJoins {
	var out []PathJoins
	for _, path := range []string{PathTarget, PathDirect} {
		s := m[path]
		if s == nil {
			s = &joinSamples{}
		}
		out = append(out, PathJoins{Path: path, WSToJoinedMs: percentilesOf(s.wsJoined),
			WSToFirstMediaMs: percentilesOf(s.wsFirst)})
	}
	return out
}

func percentilesOf(samples []time.Duration) Percentiles {
	p := stats.Percentiles(samples, 0.50, 0.95, 0.99)
	return Percentiles{N: len(samples), P50: ms(p[0]), P95: ms(p[1]), P99: ms(p[2])}
}

// result turns the final snapshot (and the steady one, if any) into a Result.
func (r *run) result(steady, final *snapshot, rampEnded bool) *Result {
	res := &Result{Scenario: r.scn.Name, Server: r.opts.Target.URL, Room: r.room, StartedAt: r.start,
		DurationS: final.at.Sub(r.start).Seconds(), Participants: len(r.parts), Feedback: r.opts.Feedback, Lean: r.opts.Lean}

	// Joins.
	var wsJoined, joinedFirst, wsFirst []time.Duration
	seen := map[string]bool{}
	subscribersJoined := 0
	for _, p := range r.parts {
		if p.publishes() {
			res.Publishers++
		}
		if p.group.Subscribe {
			res.Subscribers++
		}
		ws, joined, err, done := p.outcome()
		switch {
		case !done && ws.IsZero():
			continue // never started: the run ended first
		case !done:
			err = fmt.Errorf("join still in progress when the run ended")
		}
		if err != nil {
			res.Joins.Failed++
			if msg := err.Error(); !seen[msg] && len(res.Joins.Errors) < 5 {
				seen[msg] = true
				res.Joins.Errors = append(res.Joins.Errors, msg)
			}
			continue
		}
		res.Joins.OK++
		if node := p.nodeID(); node != "" {
			if res.Nodes == nil {
				res.Nodes = map[string]int{}
			}
			res.Nodes[node]++
		}
		wsJoined = append(wsJoined, joined.Sub(ws))
		if p.droppedBefore(r.stopped) {
			res.Joins.Dropped++
			if res.Joins.DropReason == "" {
				res.Joins.DropReason, _ = p.dropReason.Load().(string)
			}
		}
		if !p.group.Subscribe {
			continue
		}
		subscribersJoined++
		var ps *joinSamples
		if !p.publishes() {
			path := PathTarget
			if p.group.Direct {
				path = PathDirect
			}
			if res.joinPath == nil {
				res.joinPath = map[string]*joinSamples{}
			}
			if ps = res.joinPath[path]; ps == nil {
				ps = &joinSamples{}
				res.joinPath[path] = ps
			}
			ps.wsJoined = append(ps.wsJoined, joined.Sub(ws))
		}
		if first := p.firstMedia.Load(); first != 0 {
			at := time.Unix(0, first)
			joinedFirst = append(joinedFirst, max(at.Sub(joined), 0))
			wsFirst = append(wsFirst, at.Sub(ws))
			if ps != nil {
				ps.wsFirst = append(ps.wsFirst, at.Sub(ws))
			}
		} else {
			res.Joins.NoMedia++
		}
	}
	res.joinAll = joinSamples{wsJoined: wsJoined, wsFirst: wsFirst}
	if r.scn.hasDirect() {
		res.Paths = pathJoins(res.joinPath)
	}
	if notStarted := len(r.parts) - res.Joins.OK - res.Joins.Failed; notStarted > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%d participants never started joining: the run ended first", notStarted))
	}
	res.Joins.WSToJoinedMs = percentilesOf(wsJoined)
	res.Joins.JoinedToFirstMediaMs = percentilesOf(joinedFirst)
	res.Joins.WSToFirstMediaMs = percentilesOf(wsFirst)

	// Media per kind.
	r.mu.Lock()
	tracks := append([]*trackStats(nil), r.tracks...)
	r.mu.Unlock()
	var kt [2]kindTotals
	var all stats.Histogram
	for _, ts := range tracks {
		kt[ts.kind].add(ts, r.tail(ts), true)
	}
	kinds := [2]*KindResult{&res.Audio, &res.Video}
	var expected, received uint64
	var jitterSum time.Duration
	var nTracks int
	for k, kr := range kinds {
		t := &kt[k]
		*kr = KindResult{SentPackets: final.sentPkts[k], SentBytes: final.sentB[k],
			ReceivedPackets: final.recvPkts[k], ReceivedBytes: final.recvB[k], Tracks: t.tracks,
			Expected: t.expected, Duplicates: t.duplicates, UndeliveredAtEnd: t.tail, Unstamped: t.unstamped, Padding: t.padding,
			Latency: latencyOf(&t.latency)}
		if t.expected > t.received {
			kr.Lost = t.expected - t.received
		}
		kr.LossPercent = stats.LossPercent(t.expected, t.received)
		if t.tracks > 0 {
			kr.JitterMs = ms(t.jitterSum / time.Duration(t.tracks))
		}
		expected += t.expected
		received += t.received
		jitterSum += t.jitterSum
		nTracks += t.tracks
		all.Merge(&t.latency)
	}
	res.Audio.FanoutSkew = fanoutSkew(tracks, kindAudio)
	res.Video.FanoutSkew = fanoutSkew(tracks, kindVideo)
	res.LossPercent = stats.LossPercent(expected, received)
	res.Latency = latencyOf(&all)
	if nTracks > 0 {
		res.JitterMs = ms(jitterSum / time.Duration(nTracks))
	}
	res.KeyframeRequests = r.cnt.keyframeRequests.Load()
	res.Keyframes = r.cnt.keyframes.Load()

	// Rates and costs over the steady window.
	from := steady
	if from == nil || final.at.Sub(from.at) < time.Second {
		if rampEnded {
			res.Warnings = append(res.Warnings, "no steady window after the joins (duration too short for the ramp): rates and CPU cover the whole run")
		} else {
			res.Warnings = append(res.Warnings, "not every join finished before the end: rates and CPU cover the whole run")
		}
		from = &snapshot{at: r.start}
	}
	win := final.at.Sub(from.at).Seconds()
	res.SteadyS = win
	var outPkts float64
	if win > 0 {
		for k := range 2 {
			res.BitrateIn += float64(final.sentB[k]-from.sentB[k]) * 8 / win
			res.BitrateOut += float64(final.recvB[k]-from.recvB[k]) * 8 / win
			res.PacketsInPerS += float64(final.sentPkts[k]-from.sentPkts[k]) / win
			outPkts += float64(final.recvPkts[k] - from.recvPkts[k])
		}
		res.PacketsOutPerS = outPkts / win
		res.FullQualityPacketsPerS = (float64(final.sentPkts[kindAudio]-from.sentPkts[kindAudio]) +
			float64(final.sentTop-from.sentTop)) / win
	}
	cores := procstat.AllowedCPUs(0)
	if cores == 0 {
		cores = runtime.NumCPU()
	}
	testerCPU := final.tester.CPU - from.tester.CPU
	res.Tester = TesterResult{CPUSeconds: testerCPU.Seconds(), Cores: cores}
	if win > 0 {
		res.Tester.CPUPercent = 100 * testerCPU.Seconds() / win
	}
	res.LoadAverage = procstat.LoadAverage()
	if win > 0 {
		res.Tester.WaitPercent = 100 * (final.tester.Wait - from.tester.Wait).Seconds() / win
	}
	if starved(res.Tester.WaitPercent, res.Tester.CPUPercent, cores) {
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"tester starved: its threads waited %.0f%% of the time for a CPU (load average %.1f on %d CPUs): latency and loss reflect other load on the machine",
			res.Tester.WaitPercent, res.LoadAverage, procstat.OnlineCPUs()))
	}
	if res.Tester.CPUPercent > saturation*100*float64(cores) {
		res.Tester.Saturated = true
		res.Warnings = append(res.Warnings, fmt.Sprintf(
			"tester saturated: %.0f%% CPU of %d core(s); latency, loss and throughput measure the tester, not the server",
			res.Tester.CPUPercent, cores))
	}
	if final.hasServer {
		cpu := final.server.CPU - from.server.CPU
		sr := &ServerResult{PID: r.opts.ServerPID, CPUSeconds: cpu.Seconds(),
			CPUSecondsTotal: final.server.CPU.Seconds(), PeakRSS: final.server.PeakRSS,
			RSSGrowth: final.server.PeakRSS - final.server.StartRSS}
		if win > 0 {
			sr.CPUPercent = 100 * cpu.Seconds() / win
			sr.WaitPercent = 100 * (final.server.Wait - from.server.Wait).Seconds() / win
		}
		if starved(sr.WaitPercent, sr.CPUPercent, procstat.AllowedCPUs(r.opts.ServerPID)) {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"server starved: its threads waited %.0f%% of the time for a CPU: other load on its core inflates latency and loss",
				sr.WaitPercent))
		}
		if cpu > 0 && outPkts > 0 {
			sr.ForwardedPerCPUSecond = outPkts / cpu.Seconds()
			sr.CPUMicrosPerPacket = cpu.Seconds() * 1e6 / outPkts
		}
		if subscribersJoined > 0 {
			sr.RSSPerSubscriber = sr.RSSGrowth / int64(subscribersJoined)
		}
		res.ServerProcess = sr
	}
	r.relayResult(res, from, final, win)
	return res
}
