// Package procstat samples a process's CPU time and resident memory from Linux /proc, so
// the load tester can report what a server (and the tester itself) cost during a run.
package procstat

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// clockTicks is USER_HZ, the unit of utime/stime in /proc/PID/stat. It is 100 on every
// Linux architecture Go supports (sysconf(_SC_CLK_TCK) reports the same constant).
const clockTicks = 100

// Sample is one reading of a process.
type Sample struct {
	CPU time.Duration // user + system time since the process started, all threads
	RSS int64         // resident set size in bytes
	// Wait is the time its live threads spent runnable but waiting for a CPU
	// (/proc/PID/task/*/schedstat): high when other load on the machine starves it.
	Wait time.Duration
}

// Read reads pid's current CPU time and RSS from /proc/PID/stat and its run-queue wait
// from the schedstat of each thread (proc(5)).
func Read(pid int) (Sample, error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return Sample{}, fmt.Errorf("procstat: %w", err)
	}
	s, err := parseStat(raw)
	if err != nil {
		return Sample{}, err
	}
	s.Wait = runqueueWait(pid)
	return s, nil
}

// runqueueWait sums the second field of every thread's schedstat; 0 when the kernel does
// not provide it (CONFIG_SCHEDSTATS off).
func runqueueWait(pid int) time.Duration {
	dir := fmt.Sprintf("/proc/%d/task", pid)
	tasks, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var total time.Duration
	for _, t := range tasks {
		raw, err := os.ReadFile(dir + "/" + t.Name() + "/schedstat")
		if err != nil {
			continue
		}
		if f := bytes.Fields(raw); len(f) >= 2 {
			if ns, err := strconv.ParseInt(string(f[1]), 10, 64); err == nil {
				total += time.Duration(ns)
			}
		}
	}
	return total
}

// OnlineCPUs is the number of CPUs of the machine (not only those this process may use,
// which runtime.NumCPU reports), from /proc/stat; runtime.NumCPU if unreadable.
func OnlineCPUs() int {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return runtime.NumCPU()
	}
	n := 0
	for _, line := range bytes.Split(raw, []byte("\n")) {
		if len(line) > 3 && bytes.HasPrefix(line, []byte("cpu")) && line[3] >= '0' && line[3] <= '9' {
			n++
		}
	}
	if n == 0 {
		return runtime.NumCPU()
	}
	return n
}

// AllowedCPUs is the number of CPUs pid may run on (its affinity mask, as taskset sets
// it); 0 if it cannot be read.
func AllowedCPUs(pid int) int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &set); err != nil {
		return 0
	}
	return set.Count()
}

// LoadAverage is the one-minute load average of the machine (/proc/loadavg), -1 if unknown.
func LoadAverage() float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := bytes.Fields(raw)
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(string(f[0]), 64)
	if err != nil {
		return -1
	}
	return v
}

func parseStat(raw []byte) (Sample, error) {
	// The command name (field 2) may contain spaces and parentheses: split after the last ')'.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return Sample{}, errors.New("procstat: malformed stat line")
	}
	f := bytes.Fields(raw[i+1:]) // f[0] is field 3 (state)
	if len(f) < 22 {
		return Sample{}, errors.New("procstat: short stat line")
	}
	num := func(field int) (int64, error) {
		return strconv.ParseInt(string(f[field-3]), 10, 64)
	}
	utime, err1 := num(14)
	stime, err2 := num(15)
	rss, err3 := num(24)
	if err := errors.Join(err1, err2, err3); err != nil {
		return Sample{}, fmt.Errorf("procstat: stat fields: %w", err)
	}
	return Sample{
		CPU: time.Duration(utime+stime) * time.Second / clockTicks,
		RSS: rss * int64(os.Getpagesize()),
	}, nil
}

// Summary is what a Sampler measured between Start and Stop.
type Summary struct {
	Wall       time.Duration
	CPU        time.Duration // CPU time used during the window
	CPUPercent float64       // CPU / Wall * 100 (100 = one core busy)
	PeakRSS    int64         // bytes, highest sampled
	StartRSS   int64         // bytes, at Start
	Wait       time.Duration // run-queue wait during the window (see Sample.Wait)
}

// Sampler reads a process periodically until Stop. Safe for concurrent use.
type Sampler struct {
	pid    int
	start  time.Time
	first  Sample
	cancel context.CancelFunc
	done   chan struct{}

	mu   sync.Mutex
	last Sample
	peak int64
	err  error
}

// Start takes a first reading of pid (failing if the process cannot be read) and then one
// every interval until Stop or ctx ends.
func Start(ctx context.Context, pid int, interval time.Duration) (*Sampler, error) {
	first, err := Read(pid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &Sampler{pid: pid, start: time.Now(), first: first, last: first, peak: first.RSS,
		cancel: cancel, done: make(chan struct{})}
	go s.loop(ctx, interval)
	return s, nil
}

func (s *Sampler) loop(ctx context.Context, interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.sample()
		}
	}
}

func (s *Sampler) sample() {
	cur, err := Read(s.pid)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		if s.err == nil {
			s.err = err
		}
		return
	}
	s.last = cur
	s.peak = max(s.peak, cur.RSS)
}

// Now returns the summary so far without stopping.
func (s *Sampler) Now() Summary {
	s.mu.Lock()
	defer s.mu.Unlock()
	wall := time.Since(s.start)
	cpu := s.last.CPU - s.first.CPU
	sum := Summary{Wall: wall, CPU: cpu, PeakRSS: s.peak, StartRSS: s.first.RSS, Wait: max(s.last.Wait-s.first.Wait, 0)}
	if wall > 0 {
		sum.CPUPercent = 100 * cpu.Seconds() / wall.Seconds()
	}
	return sum
}

// Stop takes a last reading and returns the summary. err is the first read error after
// Start (the process exited, for instance); the summary then covers what was read.
func (s *Sampler) Stop() (Summary, error) {
	s.cancel()
	<-s.done
	s.sample()
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	return s.Now(), err
}
