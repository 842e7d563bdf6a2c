package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/atrium-live/atrium/bench/procstat"
	"github.com/atrium-live/atrium/bench/udpbase"
)

// Suite gathers the results of the standard suite (`make bench`) into one document.
type Suite struct {
	GeneratedAt time.Time          `json:"generated_at"`
	Machine     Machine            `json:"machine"`
	UDPBaseline []udpbase.Result   `json:"udp_baseline"`
	Runs        map[string]*Result `json:"runs"`
	Failures    map[string]string  `json:"failures,omitempty"`
	Targets     []TargetCheck      `json:"targets"`
}

// Machine describes where the suite ran.
type Machine struct {
	CPUs    int    `json:"cpus"`
	Model   string `json:"cpu_model"`
	Kernel  string `json:"kernel"`
	GoArch  string `json:"goarch"`
	Version string `json:"atrium_version,omitempty"`
}

// TargetCheck is one target of issue 5 against what the suite measured.
type TargetCheck struct {
	Name     string  `json:"name"`
	Target   string  `json:"target"`
	Measured string  `json:"measured"`
	Value    float64 `json:"value"`
	Met      bool    `json:"met"`
	Note     string  `json:"note,omitempty"`
}

// LoadSuite reads a directory written by scripts/bench.sh: udp-baseline.json, one
// <name>.json per scenario run and <name>.err for runs that failed.
func LoadSuite(dir string, m Machine) (*Suite, error) {
	s := &Suite{GeneratedAt: time.Now().UTC(), Machine: m, Runs: map[string]*Result{}, Failures: map[string]string{}}
	if s.Machine.GoArch == "" {
		s.Machine.GoArch = runtime.GOARCH
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("bench: suite: %w", err)
	}
	for _, e := range entries {
		path := filepath.Join(dir, e.Name())
		name := strings.TrimSuffix(e.Name(), filepath.Ext(e.Name()))
		switch {
		case e.Name() == "udp-baseline.json":
			if err := readJSON(path, &s.UDPBaseline); err != nil {
				return nil, err
			}
		case strings.HasSuffix(e.Name(), ".json"):
			var r Result
			if err := readJSON(path, &r); err != nil {
				return nil, err
			}
			s.Runs[name] = &r
		case strings.HasSuffix(e.Name(), ".err"):
			raw, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			if msg := strings.TrimSpace(string(raw)); msg != "" {
				s.Failures[name] = msg
			}
		}
	}
	s.Targets = s.checkTargets()
	return s, nil
}

func readJSON(path string, v any) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("bench: suite: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("bench: suite: %s: %w", path, err)
	}
	return nil
}

// bestBaseline is the cheapest raw forwarding measured (batched, normally).
func (s *Suite) bestBaseline() (udpbase.Result, bool) {
	var best udpbase.Result
	for _, b := range s.UDPBaseline {
		if b.CPUMicrosPerPacket > 0 && (best.CPUMicrosPerPacket == 0 || b.CPUMicrosPerPacket < best.CPUMicrosPerPacket) {
			best = b
		}
	}
	return best, best.CPUMicrosPerPacket > 0
}

func (s *Suite) checkTargets() []TargetCheck {
	var out []TargetCheck
	base, haveBase := s.bestBaseline()
	// The biggest lecture is the forwarding workload of record; join-* runs measure joins.
	var lecture, join *Result
	for name, r := range s.Runs {
		switch {
		case strings.HasPrefix(name, "lecture-") && realisticFeedback(r) && (lecture == nil || r.Subscribers > lecture.Subscribers):
			lecture = r
		case strings.HasPrefix(name, "join-") && (join == nil || r.Subscribers > join.Subscribers):
			join = r
		}
	}
	if lecture != nil && lecture.ServerProcess != nil && haveBase {
		ratio := lecture.ServerProcess.CPUMicrosPerPacket / base.CPUMicrosPerPacket
		out = append(out, TargetCheck{Name: "cpu per forwarded packet", Target: "<= 1.6x raw UDP forwarding",
			Measured: fmt.Sprintf("%.2f us vs %.2f us raw (%s) = %.2fx", lecture.ServerProcess.CPUMicrosPerPacket,
				base.CPUMicrosPerPacket, base.Mode, ratio), Value: ratio, Met: ratio <= 1.6,
			Note: saturationNote(lecture)})
	}
	if lecture != nil && lecture.ServerProcess != nil && lecture.ServerProcess.CPUPercent > 0 {
		// Density from the cost of one forwarded packet and what each student receives at
		// full quality (every track, top layer): robust to a run where the server or the
		// tester was starved or saturated or layers were lowered, unlike subscribers / CPU share.
		sp := lecture.ServerProcess
		demand := lecture.FullQualityPacketsPerS
		if demand == 0 && lecture.Subscribers > 0 && lecture.LossPercent < 100 {
			demand = lecture.PacketsOutPerS / (1 - lecture.LossPercent/100) / float64(lecture.Subscribers)
		}
		perCore := 0.0
		if demand > 0 && sp.CPUMicrosPerPacket > 0 {
			perCore = 1e6 / (sp.CPUMicrosPerPacket * demand)
		}
		out = append(out, TargetCheck{Name: "lecture density", Target: ">= 400 students per server core, loss <= 0.5%",
			Measured: fmt.Sprintf("%.0f students per core extrapolated (%.2f us/pkt x %.0f pkt/s per student); this run: %d students, server %.0f%% of a core, loss %.3f%%",
				perCore, sp.CPUMicrosPerPacket, demand, lecture.Subscribers, sp.CPUPercent, lecture.LossPercent),
			Value: perCore, Met: perCore >= 400 && lecture.LossPercent <= 0.5, Note: saturationNote(lecture)})
		out = append(out, TargetCheck{Name: "forwarding latency", Target: "p50 <= 0.5 ms, p99 <= 5 ms",
			Measured: fmt.Sprintf("p50 %.2f ms, p99 %.2f ms end to end (tester included) at %.0f%% server load",
				lecture.Latency.P50, lecture.Latency.P99, lecture.ServerProcess.CPUPercent),
			Value: lecture.Latency.P50, Met: lecture.Latency.P50 <= 0.5 && lecture.Latency.P99 <= 5,
			Note: saturationNote(lecture)})
		if lecture.ServerProcess.RSSPerSubscriber > 0 {
			mib := float64(lecture.ServerProcess.RSSPerSubscriber) / (1 << 20)
			out = append(out, TargetCheck{Name: "memory", Target: "<= 1 MiB RSS per subscriber",
				Measured: fmt.Sprintf("%.2f MiB per subscriber (RSS growth / subscribers)", mib), Value: mib, Met: mib <= 1})
		}
	}
	out = append(out, s.mediaPathTargets(base, haveBase)...)
	if j := join; j != nil {
		w := j.Joins.WSToFirstMediaMs
		out = append(out, TargetCheck{Name: "join time", Target: "ws open -> first media p50 <= 150 ms, p95 <= 400 ms (200 joins at 10/s)",
			Measured: fmt.Sprintf("p50 %.0f ms, p95 %.0f ms, p99 %.0f ms over %d joins (%d failed)", w.P50, w.P95, w.P99, w.N, j.Joins.Failed),
			Value:    w.P50, Met: w.N > 0 && w.P50 <= 150 && w.P95 <= 400 && j.Joins.Failed == 0})
	}
	return out
}

func saturationNote(r *Result) string {
	var notes []string
	if r.Tester.Saturated {
		notes = append(notes, fmt.Sprintf("tester saturated (%.0f%% of %d cores): the tester, not the server, bounds this run", r.Tester.CPUPercent, r.Tester.Cores))
	}
	if sp := r.ServerProcess; sp != nil && (starved(sp.WaitPercent, sp.CPUPercent, 1) || starved(r.Tester.WaitPercent, r.Tester.CPUPercent, r.Tester.Cores)) {
		notes = append(notes, fmt.Sprintf("starved by other load (waited for a CPU: server %.0f%%, tester %.0f%% of the time; load average %.1f)",
			sp.WaitPercent, r.Tester.WaitPercent, r.LoadAverage))
	}
	return strings.Join(notes, "; ")
}

// WriteMarkdown writes a short human summary of the suite.
func (s *Suite) WriteMarkdown(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# Atrium bench: standard suite\n\n%s, %d CPUs (%s), %s", s.GeneratedAt.Format(time.RFC3339),
		s.Machine.CPUs, s.Machine.Model, s.Machine.Kernel)
	if s.Machine.Version != "" {
		fmt.Fprintf(&b, ", atrium %s", s.Machine.Version)
	}
	b.WriteString(". Server pinned to one core, tester to the other; figures per server core.\n\n")
	b.WriteString("## Targets (issues 5 and 10)\n\n| target | wanted | measured | met |\n|---|---|---|---|\n")
	for _, t := range s.Targets {
		met := "yes"
		if !t.Met {
			met = "**no**"
		}
		m := t.Measured
		if t.Note != "" {
			m += " (" + t.Note + ")"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", t.Name, t.Target, m, met)
	}
	b.WriteString("\n## Raw UDP forwarding baseline\n\n| mode | fan-out | pkt per CPU-s | us/pkt | loss |\n|---|---|---|---|---|\n")
	for _, u := range s.UDPBaseline {
		fmt.Fprintf(&b, "| %s | 1 -> %d | %.0f | %.2f | %.3f%% |\n", u.Mode, u.Receivers, u.ForwardedPerCPUSecond,
			u.CPUMicrosPerPacket, u.LossPercent)
	}
	b.WriteString("\n## Scenarios\n\n| run | joins ok/failed | ws->media p50/p95 ms | loss % | latency p50/p90/p99/max ms | jitter ms | out Mb/s | out pkt/s | server CPU % | fwd pkt per CPU-s | us/pkt | peak RSS MiB | tester CPU % | bounded by | feedback | wait for CPU % server/tester | load avg | p50 ms first/last 10% subscribers |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n")
	names := make([]string, 0, len(s.Runs))
	for n := range s.Runs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		r := s.Runs[n]
		cpu, fwd, us, rss, wait := "-", "-", "-", "-", "-"
		if sp := r.ServerProcess; sp != nil {
			wait = fmt.Sprintf("%.0f", sp.WaitPercent)
			cpu = fmt.Sprintf("%.0f", sp.CPUPercent)
			fwd = fmt.Sprintf("%.0f", sp.ForwardedPerCPUSecond)
			us = fmt.Sprintf("%.2f", sp.CPUMicrosPerPacket)
			rss = fmt.Sprintf("%.0f", float64(sp.PeakRSS)/(1<<20))
		}
		sat := ""
		if r.Tester.Saturated {
			sat = " (saturated)"
		}
		skew := "-"
		if k := r.Video.FanoutSkew; k != nil {
			skew = fmt.Sprintf("%.2f/%.2f (video)", k.FirstTenthP50, k.LastTenthP50)
		} else if k := r.Audio.FanoutSkew; k != nil {
			skew = fmt.Sprintf("%.2f/%.2f (audio)", k.FirstTenthP50, k.LastTenthP50)
		}
		bound := "server"
		if r.Tester.Saturated {
			bound = "**tester**"
		}
		fb := string(r.Feedback)
		if fb == "" {
			fb = "-"
		}
		if r.Lean {
			fb = "lean"
		}
		fmt.Fprintf(&b, "| %s | %d/%d | %.0f/%.0f | %.3f | %.2f/%.2f/%.2f/%.1f | %.2f | %.1f | %.0f | %s | %s | %s | %s | %.0f%s | %s | %s | %s/%.0f | %.1f | %s |\n",
			n, r.Joins.OK, r.Joins.Failed, r.Joins.WSToFirstMediaMs.P50, r.Joins.WSToFirstMediaMs.P95, r.LossPercent,
			r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max, r.JitterMs, r.BitrateOut/1e6, r.PacketsOutPerS,
			cpu, fwd, us, rss, r.Tester.CPUPercent, sat, bound, fb, wait, r.Tester.WaitPercent, r.LoadAverage, skew)
	}
	writeFeedbackCost(&b, s.Runs, names)
	if len(s.Failures) > 0 {
		b.WriteString("\n## Failed runs\n\n")
		for n, msg := range s.Failures {
			fmt.Fprintf(&b, "- %s: %s\n", n, msg)
		}
	}
	for _, n := range names {
		for _, warn := range s.Runs[n].Warnings {
			fmt.Fprintf(&b, "\n- %s: %s", n, warn)
		}
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// DetectMachine describes the machine the suite runs on, from /proc and uname.
func DetectMachine(version string) Machine {
	m := Machine{CPUs: procstat.OnlineCPUs(), GoArch: runtime.GOARCH, Version: version}
	if raw, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(raw), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if raw, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = "Linux " + strings.TrimSpace(string(raw))
	}
	return m
}

// realisticFeedback reports whether r's subscribers sent browser-like RTCP (runs from
// before the feedback modes existed count: their SDK subscribers were the realistic ones).
func realisticFeedback(r *Result) bool {
	return !r.Lean && (r.Feedback == "" || r.Feedback == FeedbackBrowser)
}

// writeFeedbackCost compares runs that differ only in their subscribers' feedback: a run
// named NAME-sdk, NAME-none or NAME-lean (lean subscribers) against NAME (browser
// feedback), same suite, same machine.
func writeFeedbackCost(b *strings.Builder, runs map[string]*Result, names []string) {
	header := false
	for _, n := range names {
		base, suffix, ok := cutFeedbackSuffix(n)
		ref := runs[base]
		r := runs[n]
		if !ok || ref == nil || ref.ServerProcess == nil || r.ServerProcess == nil || ref.ServerProcess.ForwardedPerCPUSecond == 0 {
			continue
		}
		if !header {
			b.WriteString("\n## Server cost of subscriber feedback (same suite)\n\n| run | feedback | fwd pkt per CPU-s | vs browser feedback | tester bounded |\n|---|---|---|---|---|\n")
			header = true
		}
		fmt.Fprintf(b, "| %s | %s | %.0f | %.2fx (%s: %.0f) | %v / %v |\n", n, suffix, r.ServerProcess.ForwardedPerCPUSecond,
			r.ServerProcess.ForwardedPerCPUSecond/ref.ServerProcess.ForwardedPerCPUSecond, base,
			ref.ServerProcess.ForwardedPerCPUSecond, r.Tester.Saturated, ref.Tester.Saturated)
	}
}

// cutFeedbackSuffix splits "lecture-100-lean" into "lecture-100" and "lean".
func cutFeedbackSuffix(name string) (base, suffix string, ok bool) {
	for _, s := range []string{"-sdk", "-none", "-lean"} {
		if b, found := strings.CutSuffix(name, s); found {
			return b, s[1:], true
		}
	}
	return name, "", false
}

// mediaPathTargets are issue 10's checks: forwarding efficiency with RTCP-realistic
// subscribers on lecture 1 -> 100 (the reference workload), against the raw UDP limit, and
// whether the tester stayed below 80% of its core in the lecture runs of each size.
func (s *Suite) mediaPathTargets(base udpbase.Result, haveBase bool) []TargetCheck {
	var out []TargetCheck
	if r := s.Runs["lecture-100"]; r != nil && realisticFeedback(r) && r.ServerProcess != nil && r.ServerProcess.ForwardedPerCPUSecond > 0 {
		fwd := r.ServerProcess.ForwardedPerCPUSecond
		out = append(out, TargetCheck{Name: "fwd pkt per server CPU-s (issue 10)",
			Target:   ">= 80000 with RTCP-realistic subscribers (lecture 1 -> 100), loss <= 0.5%",
			Measured: fmt.Sprintf("%.0f with %s feedback, loss %.3f%%, %.0f Mb/s out", fwd, r.Feedback, r.LossPercent, r.BitrateOut/1e6),
			Value:    fwd, Met: fwd >= 80000 && r.LossPercent <= 0.5, Note: saturationNote(r)})
		if haveBase && base.ForwardedPerCPUSecond > 0 {
			f := fwd / base.ForwardedPerCPUSecond
			out = append(out, TargetCheck{Name: "share of raw UDP forwarding (issue 10)", Target: ">= 0.6 of udp-baseline on the same core",
				Measured: fmt.Sprintf("%.0f / %.0f (%s) = %.2f", fwd, base.ForwardedPerCPUSecond, base.Mode, f),
				Value:    f, Met: f >= 0.6, Note: saturationNote(r)})
		}
	}
	// Suites from before the feedback modes (no run names its feedback) had no lean runs.
	newer := false
	for _, r := range s.Runs {
		newer = newer || r.Feedback != ""
	}
	if !newer {
		return out
	}
	var parts []string
	met := true
	for _, n := range []int{100, 300, 600} {
		best := ""
		bestCPU := -1.0
		for name, r := range s.Runs {
			if !strings.HasPrefix(name, fmt.Sprintf("lecture-%d", n)) || r.Subscribers != n {
				continue
			}
			if bestCPU < 0 || r.Tester.CPUPercent < bestCPU {
				best, bestCPU = name, r.Tester.CPUPercent
			}
		}
		if best == "" {
			parts = append(parts, fmt.Sprintf("%d: not run", n))
			met = false
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %.0f%%", best, bestCPU))
		if bestCPU >= 80 {
			met = false
		}
	}
	out = append(out, TargetCheck{Name: "tester headroom (issue 10)", Target: "lecture 1 -> 100, 300 and 600 with the tester below 80% of its core",
		Measured: strings.Join(parts, ", "), Met: met})
	return out
}
