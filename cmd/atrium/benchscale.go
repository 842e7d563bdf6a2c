package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/atrium-live/atrium/bench"
)

// runBenchScaleOut is `atrium bench scale-out`: the lecture on 1 node and on N nodes, each
// node a process of its own held to --node-quota cores (docs/relay.md, "Scale-out").
func runBenchScaleOut(ctx context.Context, args []string) error {
	fs, rf := benchFlags("bench scale-out")
	var (
		quota                        float64
		nodes, redis, cgroup, logDir string
		start, maxStudents, trials   int
		shares                       int
		lossMax, p99Max              float64
		trialDuration                time.Duration
	)
	fs.Float64Var(&quota, "node-quota", 0, "CPU budget of each SFU node in cores (cgroup v1 cpu.cfs_quota_us of a 100 ms period), e.g. 0.2 (required)")
	fs.StringVar(&nodes, "nodes", "1,3", "cluster sizes to measure, comma-separated")
	fs.IntVar(&shares, "node-shares", 0, "cpu.shares of each node's cgroup (0: the kernel's 1024): its weight against other load while under its quota")
	fs.Float64Var(&lossMax, "max-loss", 0.5, "a trial passes with at most this loss, percent")
	fs.Float64Var(&p99Max, "max-p99", 50, "a trial passes with at most this latency p99, ms")
	fs.StringVar(&redis, "redis", "127.0.0.1:6379", "Redis the nodes share room leases in")
	fs.StringVar(&cgroup, "cgroup-root", "/sys/fs/cgroup/cpu", "mount of the cgroup v1 cpu controller (must be writable)")
	fs.StringVar(&logDir, "logs", "", "keep the node and gateway logs in this folder")
	fs.IntVar(&start, "start-per-node", 20, "first class size tried, per node")
	fs.IntVar(&maxStudents, "max-students", 1000, "largest class size tried")
	fs.IntVar(&trials, "max-trials", 8, "trials per cluster size")
	fs.DurationVar(&trialDuration, "trial-duration", 20*time.Second, "length of each trial (from the first join)")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if quota <= 0 {
		return errors.New("scale-out needs --node-quota CORES")
	}
	sizes, err := parseSizes(nodes)
	if err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["duration"] {
		rf.duration = trialDuration
	}
	opts, err := rf.options(fs)
	if err != nil {
		return err
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("scale-out: own binary: %w", err)
	}
	if logDir != "" {
		if err := os.MkdirAll(logDir, 0o755); err != nil {
			return fmt.Errorf("scale-out: --logs: %w", err)
		}
	}
	so := bench.ScaleOutOptions{Run: opts, Binary: bin, NodeQuota: quota, NodeShares: shares, CgroupRoot: cgroup, Nodes: sizes,
		LossMaxPercent: lossMax, LatencyP99MaxMs: p99Max,
		Redis: redis, StartPerNode: start, MaxStudents: maxStudents, MaxTrials: trials, LogDir: logDir}
	if !rf.quiet {
		so.Progress = os.Stderr
	}
	res, runErr := bench.ScaleOut(ctx, so)
	if res == nil {
		return runErr
	}
	if err := res.WriteTable(os.Stdout); err != nil {
		return errors.Join(runErr, err)
	}
	if rf.json != "" {
		if err := bench.WriteJSONFile(rf.json, res); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

// parseSizes reads "1,3" into cluster sizes.
func parseSizes(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--nodes %q: want positive numbers separated by commas", s)
		}
		out = append(out, n)
	}
	return out, nil
}
