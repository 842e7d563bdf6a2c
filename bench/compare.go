package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
)

// CompareOptions run one scenario against two servers.
type CompareOptions struct {
	Run    Options // Target and ServerPID are replaced per side
	A, B   Target
	APID   int // server PIDs to sample, 0: none
	BPID   int
	Rounds int // A B pairs; 0: 2
	// OnRun, if set, is called after each run (side "A" or "B", round from 1).
	OnRun func(side string, round int, res *Result, err error)
}

// Comparison holds every run of both sides.
type Comparison struct {
	A []*Result `json:"a"`
	B []*Result `json:"b"`
}

// Compare runs the scenario alternately against A and B (A B A B ...), so that drift in
// the machine's state affects both alike. A run that fails is reported through OnRun and
// left out of the figures; Compare fails only when a side has no successful run.
func Compare(ctx context.Context, o CompareOptions) (*Comparison, error) {
	if o.Rounds <= 0 {
		o.Rounds = 2
	}
	c := &Comparison{}
	for round := 1; round <= o.Rounds; round++ {
		for _, side := range []string{"A", "B"} {
			if err := ctx.Err(); err != nil {
				return c, err
			}
			opts := o.Run
			opts.Target, opts.ServerPID = o.A, o.APID
			if side == "B" {
				opts.Target, opts.ServerPID = o.B, o.BPID
			}
			opts.Scenario.Room = ""   // a fresh room per run
			if opts.OwnerURL != nil { // direct groups join the owner node of this side
				opts.OwnerURL = OwnerURLFromCluster(opts.Target, nil)
			}
			res, err := Run(ctx, opts)
			if o.OnRun != nil {
				o.OnRun(side, round, res, err)
			}
			if err != nil || res == nil {
				continue
			}
			if side == "A" {
				c.A = append(c.A, res)
			} else {
				c.B = append(c.B, res)
			}
		}
	}
	if len(c.A) == 0 || len(c.B) == 0 {
		return c, errors.New("bench: compare: a side has no successful run")
	}
	return c, nil
}

// figure is one compared number.
type figure struct {
	name  string
	value func(*Result) float64
}

var compareFigures = []figure{
	{"joins ok", func(r *Result) float64 { return float64(r.Joins.OK) }},
	{"join ws->media p50 ms", func(r *Result) float64 { return r.Joins.WSToFirstMediaMs.P50 }},
	{"join ws->media p95 ms", func(r *Result) float64 { return r.Joins.WSToFirstMediaMs.P95 }},
	{"loss %", func(r *Result) float64 { return r.LossPercent }},
	{"latency p50 ms", func(r *Result) float64 { return r.Latency.P50 }},
	{"latency p90 ms", func(r *Result) float64 { return r.Latency.P90 }},
	{"latency p99 ms", func(r *Result) float64 { return r.Latency.P99 }},
	{"latency max ms", func(r *Result) float64 { return r.Latency.Max }},
	{"jitter ms", func(r *Result) float64 { return r.JitterMs }},
	{"bitrate out b/s", func(r *Result) float64 { return r.BitrateOut }},
	{"packets out /s", func(r *Result) float64 { return r.PacketsOutPerS }},
	{"server cpu %", func(r *Result) float64 { return srv(r, func(s *ServerResult) float64 { return s.CPUPercent }) }},
	{"server peak rss MiB", func(r *Result) float64 {
		return srv(r, func(s *ServerResult) float64 { return float64(s.PeakRSS) / (1 << 20) })
	}},
	{"fwd pkt per cpu-s", func(r *Result) float64 {
		return srv(r, func(s *ServerResult) float64 { return s.ForwardedPerCPUSecond })
	}},
	{"tester cpu %", func(r *Result) float64 { return r.Tester.CPUPercent }},
}

func srv(r *Result, f func(*ServerResult) float64) float64 {
	if r.ServerProcess == nil {
		return 0
	}
	return f(r.ServerProcess)
}

func mean(rs []*Result, f func(*Result) float64) float64 {
	if len(rs) == 0 {
		return 0
	}
	var s float64
	for _, r := range rs {
		s += f(r)
	}
	return s / float64(len(rs))
}

// WriteTable prints each figure: every run of A and B, the means, and the ratio B/A.
func (c *Comparison) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "figure\tA runs\tB runs\tA mean\tB mean\tB/A\t\n")
	for _, f := range compareFigures {
		runs := func(rs []*Result) string {
			s := ""
			for i, r := range rs {
				if i > 0 {
					s += " "
				}
				s += fmt.Sprintf("%.4g", f.value(r))
			}
			return s
		}
		a, b := mean(c.A, f.value), mean(c.B, f.value)
		ratio := "-"
		if a != 0 {
			ratio = fmt.Sprintf("%.3f", b/a)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.4g\t%.4g\t%s\t\n", f.name, runs(c.A), runs(c.B), a, b, ratio)
	}
	return tw.Flush()
}
