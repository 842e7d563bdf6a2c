package bench

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrium-live/atrium/bench/udpbase"
)

func TestSuiteTargets(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, v any) {
		t.Helper()
		if err := WriteJSONFile(filepath.Join(dir, name), v); err != nil {
			t.Fatal(err)
		}
	}
	write("udp-baseline.json", []udpbase.Result{
		{Mode: "plain", Receivers: 100, CPUMicrosPerPacket: 4},
		{Mode: "batched", Receivers: 100, CPUMicrosPerPacket: 2},
	})
	lecture := &Result{Scenario: "lecture", Subscribers: 300, LossPercent: 0, PacketsOutPerS: 300 * 200,
		Latency:       Latency{P50: 0.4, P99: 3},
		ServerProcess: &ServerResult{CPUMicrosPerPacket: 3, CPUPercent: 50, RSSPerSubscriber: 512 << 10}}
	write("lecture-300.json", lecture)
	write("lecture-100.json", &Result{Scenario: "lecture", Subscribers: 100,
		ServerProcess: &ServerResult{CPUMicrosPerPacket: 100, CPUPercent: 90}})
	join := &Result{Scenario: "lecture", Subscribers: 200}
	join.Joins.WSToFirstMediaMs = Percentiles{N: 200, P50: 120, P95: 500}
	write("join-200.json", join)
	if err := os.WriteFile(filepath.Join(dir, "meeting-10x10.err"), []byte("atrium bench: boom\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	s, err := LoadSuite(dir, Machine{CPUs: 2})
	if err != nil {
		t.Fatalf("LoadSuite: %v", err)
	}
	want := map[string]bool{
		"cpu per forwarded packet": true, // 3 us / 2 us batched = 1.5x
		"lecture density":          true, // 1e6 / (3 us x 200 pkt/s) = 1667 per core
		"forwarding latency":       true,
		"memory":                   true,  // 0.5 MiB
		"join time":                false, // p95 500 ms > 400 ms
	}
	if len(s.Targets) != len(want) {
		t.Fatalf("targets = %+v, want %d", s.Targets, len(want))
	}
	for _, tc := range s.Targets {
		if met, ok := want[tc.Name]; !ok || met != tc.Met {
			t.Errorf("target %q met = %v (%s), want %v", tc.Name, tc.Met, tc.Measured, met)
		}
	}
	if s.Failures["meeting-10x10"] != "atrium bench: boom" {
		t.Errorf("failures = %v, want meeting-10x10's error", s.Failures)
	}
	var md bytes.Buffer
	if err := s.WriteMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{"| cpu per forwarded packet |", "1.50x", "1667 students per core", "| lecture-300 |", "boom"} {
		if !strings.Contains(md.String(), frag) {
			t.Errorf("markdown lacks %q:\n%s", frag, md.String())
		}
	}
}
