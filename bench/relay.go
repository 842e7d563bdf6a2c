package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/atrium-live/atrium/bench/procstat"
)

// RelayMode says which participants may only use TURN relay candidates (ICE transport policy
// relay), so that their media crosses the relay the server hands out in
// JoinResponse.ice_servers. The server must be configured with TURN URLs: without them a
// relay-only participant has no candidate and its join fails.
type RelayMode string

// Relay modes.
const (
	// RelayNone: every participant uses every candidate (the default).
	RelayNone RelayMode = ""
	// RelaySubscribers: participants that only subscribe are relay-only; publishers are not
	// (so the relay carries the fan-out, the direction that costs a relay most).
	RelaySubscribers RelayMode = "subscribers"
	// RelayAll: every participant is relay-only.
	RelayAll RelayMode = "all"
)

// ParseRelayMode accepts "", "none" and "false" (RelayNone), "subscribers" and "true"
// (RelaySubscribers, what a bare --relay-only means), and "all".
func ParseRelayMode(s string) (RelayMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "none", "false":
		return RelayNone, nil
	case "subscribers", "true":
		return RelaySubscribers, nil
	case "all":
		return RelayAll, nil
	}
	return RelayNone, fmt.Errorf("bench: relay-only %q: want subscribers or all", s)
}

// applies reports whether a participant is relay-only under m.
func (m RelayMode) applies(p *participant) bool {
	switch m {
	case RelayAll:
		return true
	case RelaySubscribers:
		return !p.publishes()
	}
	return false
}

// RelayedPacketsMetric is the relay's Prometheus counter of relayed datagrams (labels
// transport and direction = to_peer, from_peer) that --turn-metrics reads.
const RelayedPacketsMetric = "atrium_turn_relayed_packets_total"

// RelayedPackets are a relay's counters, summed over transports.
type RelayedPackets struct {
	ToPeer   uint64 // client -> peer (publishers' media, subscribers' RTCP)
	FromPeer uint64 // peer -> client (the SFU's media to relay-only subscribers)
}

// Total is both directions.
func (p RelayedPackets) Total() uint64 { return p.ToPeer + p.FromPeer }

// ScrapeRelayedPackets reads RelayedPacketsMetric from the Prometheus text exposition at
// metricsURL, summing its samples per direction. A missing metric is an error: the URL is
// then not an Atrium relay's /metrics.
func ScrapeRelayedPackets(ctx context.Context, client *http.Client, metricsURL string) (RelayedPackets, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metricsURL, nil)
	if err != nil {
		return RelayedPackets{}, fmt.Errorf("bench: turn metrics: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return RelayedPackets{}, fmt.Errorf("bench: turn metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return RelayedPackets{}, fmt.Errorf("bench: turn metrics %s: HTTP %s", metricsURL, resp.Status)
	}
	p, err := parseRelayedPackets(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return RelayedPackets{}, fmt.Errorf("bench: turn metrics %s: %w", metricsURL, err)
	}
	return p, nil
}

// parseRelayedPackets sums the samples of RelayedPacketsMetric in a Prometheus text
// exposition (https://prometheus.io/docs/instrumenting/exposition_formats/): lines
// `name{labels} value [timestamp]`. Label values here never contain spaces or braces.
func parseRelayedPackets(r io.Reader) (RelayedPackets, error) {
	var p RelayedPackets
	found := false
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, RelayedPacketsMetric)
		if !ok || (rest != "" && rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		labels, value := "", strings.TrimSpace(rest)
		if strings.HasPrefix(rest, "{") {
			end := strings.IndexByte(rest, '}')
			if end < 0 {
				return RelayedPackets{}, fmt.Errorf("malformed sample %q", line)
			}
			labels, value = rest[1:end], strings.TrimSpace(rest[end+1:])
		}
		if f := strings.Fields(value); len(f) > 0 {
			value = f[0]
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil || v < 0 {
			return RelayedPackets{}, fmt.Errorf("malformed sample %q", line)
		}
		found = true
		switch {
		case strings.Contains(labels, `direction="to_peer"`):
			p.ToPeer += uint64(v)
		case strings.Contains(labels, `direction="from_peer"`):
			p.FromPeer += uint64(v)
		}
	}
	if err := sc.Err(); err != nil {
		return RelayedPackets{}, err
	}
	if !found {
		return RelayedPackets{}, fmt.Errorf("no %s samples (not an Atrium TURN relay's /metrics?)", RelayedPacketsMetric)
	}
	return p, nil
}

// RelayResult is what the TURN relay carried and cost, when participants were relay-only.
type RelayResult struct {
	Mode         RelayMode `json:"mode"`
	Participants int       `json:"relay_only_participants"` // that joined
	// RelayedPackets is what the relay forwarded in both directions over the steady window:
	// from its metrics (Source "metrics"), or else estimated (Source "estimate") as the media
	// packets relay-only subscribers received plus those relay-only publishers sent, which
	// leaves out RTCP and ICE checks and so undercounts slightly.
	RelayedPackets uint64 `json:"relayed_packets"`
	Source         string `json:"relayed_packets_source"`
	// ToPeer and FromPeer split RelayedPackets by direction (metrics only); RunToPeer and
	// RunFromPeer cover the whole run, joins included.
	ToPeer      uint64 `json:"to_peer_packets,omitempty"`
	FromPeer    uint64 `json:"from_peer_packets,omitempty"`
	RunToPeer   uint64 `json:"run_to_peer_packets,omitempty"`
	RunFromPeer uint64 `json:"run_from_peer_packets,omitempty"`
	MetricsURL  string `json:"metrics_url,omitempty"`
	// The relay process (--turn-pid), steady window.
	PID                int     `json:"pid,omitempty"`
	CPUSeconds         float64 `json:"cpu_s,omitempty"`
	CPUPercent         float64 `json:"cpu_percent,omitempty"` // 100 = one core
	WaitPercent        float64 `json:"runqueue_wait_percent,omitempty"`
	PeakRSS            int64   `json:"peak_rss_bytes,omitempty"`
	PerCPUSecond       float64 `json:"relayed_packets_per_cpu_s,omitempty"`
	CPUMicrosPerPacket float64 `json:"cpu_us_per_relayed_packet,omitempty"`
}

// relayProbe samples the relay during a run: its process (if TURNPID) and its metrics (if
// TURNMetricsURL). Methods are called from the runner's goroutine only.
type relayProbe struct {
	url     string
	client  *http.Client
	proc    *procstat.Sampler
	start   RelayedPackets // at the start of the run
	scraped bool
	errs    []string
}

// relaySnapshot is the relay's state at one instant.
type relaySnapshot struct {
	proc    procstat.Summary
	hasProc bool
	pkts    RelayedPackets
	hasPkts bool
}

// startRelayProbe checks that the relay can be observed at all, so that a typo fails the
// run at once rather than after it.
func startRelayProbe(ctx context.Context, opts Options) (*relayProbe, error) {
	if opts.TURNPID <= 0 && opts.TURNMetricsURL == "" {
		return nil, nil
	}
	p := &relayProbe{url: opts.TURNMetricsURL, client: &http.Client{Timeout: 2 * time.Second}}
	if p.url != "" {
		start, err := ScrapeRelayedPackets(ctx, p.client, p.url)
		if err != nil {
			return nil, err
		}
		p.start, p.scraped = start, true
	}
	if opts.TURNPID > 0 {
		proc, err := procstat.Start(ctx, opts.TURNPID, 250*time.Millisecond)
		if err != nil {
			return nil, fmt.Errorf("bench: --turn-pid %d: %w", opts.TURNPID, err)
		}
		p.proc = proc
	}
	return p, nil
}

// snapshot reads the relay now; a failed scrape is remembered as a warning.
func (p *relayProbe) snapshot(ctx context.Context) *relaySnapshot {
	if p == nil {
		return nil
	}
	s := &relaySnapshot{}
	if p.proc != nil {
		s.proc, s.hasProc = p.proc.Now(), true
	}
	if p.url != "" {
		pk, err := ScrapeRelayedPackets(ctx, p.client, p.url)
		if err != nil {
			p.errs = append(p.errs, err.Error())
		} else {
			s.pkts, s.hasPkts = pk, true
		}
	}
	return s
}

func (p *relayProbe) stop() {
	if p != nil && p.proc != nil {
		_, _ = p.proc.Stop()
	}
}

// validateRelayOptions rejects relay figures that could not mean anything.
func validateRelayOptions(opts Options) error {
	if _, err := ParseRelayMode(string(opts.RelayOnly)); err != nil {
		return err
	}
	if opts.RelayOnly == RelayNone && (opts.TURNPID > 0 || opts.TURNMetricsURL != "") {
		return errors.New("bench: --turn-pid and --turn-metrics need --relay-only: otherwise media does not cross the relay")
	}
	if opts.TURNMetricsURL != "" {
		u, err := url.Parse(opts.TURNMetricsURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("bench: --turn-metrics %q: want an http(s) URL of the relay's /metrics", opts.TURNMetricsURL)
		}
	}
	return nil
}

// relayResult fills the relay's figures between from and final (the steady window, or the
// whole run when from is the zero snapshot at the start).
func (r *run) relayResult(res *Result, from, final *snapshot, win float64) {
	if r.opts.RelayOnly == RelayNone {
		return
	}
	rr := &RelayResult{Mode: r.opts.RelayOnly, MetricsURL: r.opts.TURNMetricsURL, PID: r.opts.TURNPID}
	for _, p := range r.parts {
		if p.relayOnly {
			if _, joined, err, done := p.outcome(); done && err == nil && !joined.IsZero() {
				rr.Participants++
			}
		}
	}
	fin := final.relay
	var base *relaySnapshot
	if from.relay != nil {
		base = from.relay
	} else if r.relay != nil {
		// The run's start: no CPU yet, the counters as first scraped.
		base = &relaySnapshot{hasProc: r.relay.proc != nil, pkts: r.relay.start, hasPkts: r.relay.scraped}
	}
	estimate := func() uint64 {
		n := final.relayRecv - from.relayRecv
		if r.opts.RelayOnly == RelayAll {
			for k := range 2 {
				n += final.sentPkts[k] - from.sentPkts[k]
			}
		}
		return n
	}
	switch {
	case fin != nil && fin.hasPkts && base != nil && base.hasPkts:
		rr.Source = "metrics"
		rr.ToPeer = fin.pkts.ToPeer - min(base.pkts.ToPeer, fin.pkts.ToPeer)
		rr.FromPeer = fin.pkts.FromPeer - min(base.pkts.FromPeer, fin.pkts.FromPeer)
		rr.RelayedPackets = rr.ToPeer + rr.FromPeer
		rr.RunToPeer = fin.pkts.ToPeer - min(r.relay.start.ToPeer, fin.pkts.ToPeer)
		rr.RunFromPeer = fin.pkts.FromPeer - min(r.relay.start.FromPeer, fin.pkts.FromPeer)
	default:
		rr.Source = "estimate"
		rr.RelayedPackets = estimate()
	}
	if fin != nil && fin.hasProc && base != nil {
		cpu := fin.proc.CPU - base.proc.CPU
		rr.CPUSeconds, rr.PeakRSS = cpu.Seconds(), fin.proc.PeakRSS
		if win > 0 {
			rr.CPUPercent = 100 * cpu.Seconds() / win
			rr.WaitPercent = 100 * (fin.proc.Wait - base.proc.Wait).Seconds() / win
		}
		if cpu > 0 && rr.RelayedPackets > 0 {
			rr.PerCPUSecond = float64(rr.RelayedPackets) / cpu.Seconds()
			rr.CPUMicrosPerPacket = cpu.Seconds() * 1e6 / float64(rr.RelayedPackets)
		}
		if starved(rr.WaitPercent, rr.CPUPercent, procstat.AllowedCPUs(r.opts.TURNPID)) {
			res.Warnings = append(res.Warnings, fmt.Sprintf(
				"turn relay starved: its threads waited %.0f%% of the time for a CPU: other load on its core inflates its latency",
				rr.WaitPercent))
		}
	}
	if r.relay != nil {
		for i, e := range r.relay.errs {
			if i == 3 {
				break
			}
			res.Warnings = append(res.Warnings, "turn metrics: "+e)
		}
	}
	if rr.Participants > 0 && rr.Source == "metrics" && rr.RunFromPeer+rr.RunToPeer == 0 {
		res.Warnings = append(res.Warnings, "the relay counted no relayed packets: media did not cross it (is --turn-metrics the relay the server hands out?)")
	}
	res.Relay = rr
}
