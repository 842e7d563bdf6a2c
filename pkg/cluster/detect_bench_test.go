package cluster

import (
	"context"
	"testing"
	"time"
)

// BenchmarkDeadDetection measures how long the survivors of a 3-member cluster take to
// report a member killed without a goodbye, per preset. Run it with
//
//	go test -run '^$' -bench DeadDetection -benchtime 3x ./pkg/cluster/
//
// and read detect-ms (the mean over iterations; ns/op includes cluster setup).
func BenchmarkDeadDetection(b *testing.B) {
	for _, preset := range []string{PresetLocal, PresetLAN} {
		b.Run(preset, func(b *testing.B) {
			var total, worst time.Duration
			for range b.N {
				d := measureDeadDetection(b, preset)
				total += d
				worst = max(worst, d)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "detect-ms")
			b.ReportMetric(float64(worst.Milliseconds()), "worst-ms")
		})
	}
}

func measureDeadDetection(b *testing.B, preset string) time.Duration {
	start := func(id string, seeds ...string) *Cluster {
		c, err := Join(context.Background(), Config{
			NodeID: id, BindAddr: "127.0.0.1", Seeds: seeds, Preset: preset, Logger: testLogger(b),
		}, sfuMeta(id))
		if err != nil {
			b.Fatalf("Join(%s): %v", id, err)
		}
		return c
	}
	a := start("a")
	defer a.Shutdown()
	s := start("s", a.Addr())
	defer s.Shutdown()
	victim := start("victim", a.Addr())
	defer victim.Shutdown()
	for _, n := range []*Cluster{a, s, victim} {
		waitFor(b, 10*time.Second, "full view", func() bool { return len(n.Members()) == 3 })
	}
	events, cancel := a.Subscribe()
	defer cancel()
	t0 := time.Now()
	_ = victim.Shutdown()
	waitEvent(b, events, EventDead, "victim", 60*time.Second)
	return time.Since(t0)
}
