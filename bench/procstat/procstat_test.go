package procstat

import (
	"context"
	"os"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestParseStat(t *testing.T) {
	page := int64(os.Getpagesize())
	tests := []struct {
		line    string
		cpu     time.Duration
		rss     int64
		wantErr bool
	}{
		{"1234 (atrium) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 1000000 2560 18446744073709551615",
			3 * time.Second, 2560 * page, false},
		{"99 (a (weird) name) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 10 0", 100 * time.Millisecond, 10 * page, false},
		{"no paren", 0, 0, true},
		{"1 (x) S 1 2 3", 0, 0, true},
	}
	for _, tc := range tests {
		got, err := parseStat([]byte(tc.line))
		if (err != nil) != tc.wantErr {
			t.Errorf("parseStat(%q) error = %v, wantErr %v", tc.line, err, tc.wantErr)
			continue
		}
		if !tc.wantErr && (got.CPU != tc.cpu || got.RSS != tc.rss) {
			t.Errorf("parseStat(%q) = %+v, want CPU %v RSS %d", tc.line, got, tc.cpu, tc.rss)
		}
	}
}

func TestSamplerMeasuresBusyLoop(t *testing.T) {
	s, err := Start(context.Background(), os.Getpid(), 20*time.Millisecond)
	if err != nil {
		t.Fatalf("Start(self): %v", err)
	}
	// Spin until getrusage (an independent account) shows 200 ms more CPU; bounded, since
	// the machine may be shared.
	before := rusageCPU(t)
	deadline := time.Now().Add(10 * time.Second)
	x := 0
	for rusageCPU(t)-before < 200*time.Millisecond && time.Now().Before(deadline) {
		for i := 0; i < 100000; i++ {
			x++
		}
	}
	used := rusageCPU(t) - before
	sum, err := s.Stop()
	if err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// /proc counts in 10 ms ticks.
	if d := sum.CPU - used; d < -30*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("sampler CPU = %v, getrusage says %v (x=%d)", sum.CPU, used, x)
	}
	if sum.CPUPercent <= 0 || sum.PeakRSS <= 0 || sum.Wall <= 0 {
		t.Errorf("summary %+v, want CPU%%, RSS and wall > 0", sum)
	}
	if n := OnlineCPUs(); n < 1 {
		t.Errorf("OnlineCPUs() = %d, want >= 1", n)
	}
	if la := LoadAverage(); la < 0 {
		t.Errorf("LoadAverage() = %v, want >= 0", la)
	}
	if _, err := Start(context.Background(), 1<<30, time.Second); err == nil {
		t.Error("Start(nonexistent pid) = nil error, want error")
	}
}

func rusageCPU(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
