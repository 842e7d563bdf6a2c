package main

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/bench"
)

func TestBenchOptionsFromFlags(t *testing.T) {
	fs, rf := benchFlags("bench")
	args := []string{"meeting", "--publishers", "4", "--codec", "H264", "--simulcast", "--subscribe-quality", "low",
		"--duration", "20s", "--join-rate", "5", "--room", "r1", "--quiet"}
	if err := parseInterspersed(fs, args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	o, err := rf.options(fs)
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	s := o.Scenario
	if s.Name != "meeting" || s.Participants() != 4 || s.Video.Codec != "h264" || !s.Video.Simulcast ||
		s.Groups[0].SubscribeQuality != "low" || s.Duration != 20*time.Second || s.JoinRate != 5 || s.Room != "r1" {
		t.Errorf("scenario from %v = %+v", args, s)
	}
	if o.Progress != nil {
		t.Error("--quiet still reports progress")
	}
}

func TestBenchBadInputExitsWithError(t *testing.T) {
	dir := t.TempDir()
	impossible := filepath.Join(dir, "impossible.yaml")
	if err := os.WriteFile(impossible, []byte("name: x\nduration: 5s\ngroups:\n  - name: a\n    count: 500\n    subscribe: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "ws://" + ln.Addr().String()
	ln.Close()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"impossible file", []string{impossible}, "nothing to measure"},
		{"missing file", []string{filepath.Join(dir, "nope.yaml")}, "no such file"},
		{"unknown flag", []string{"--subscribers-count", "3"}, "flag provided but not defined"},
		{"bad quality", []string{"--subscribe-quality", "4k"}, "subscribe_quality"},
		{"unreachable", []string{"--url", closed, "--duration", "3s", "--quiet"}, "connection refused"},
		{"counts with a file", []string{impossible, "--subscribers", "3"}, "nothing to measure"},
		{"udp bad mode", []string{"udp-baseline", "--mode", "fast"}, "--mode"},
		{"compare without servers", []string{"compare", "lecture"}, "--a URL and --b URL"},
		{"compare-direct without rooms", []string{"--compare-direct", "--quiet"}, "need --rooms K"},
		{"rooms with server-pid", []string{"--rooms", "2", "--server-pid", "1"}, "--node-pid"},
		{"bad node-pid", []string{"--rooms", "2", "--node-pid", "sfu-1"}, "LABEL=PID"},
		{"rooms against no cluster", []string{"--rooms", "2", "--url", closed, "--quiet"}, "connection refused"},
		{"compare-direct with a meeting", []string{"meeting", "--rooms", "2", "--compare-direct"}, "subscribe-only group"},
	}
	for _, tc := range tests {
		start := time.Now()
		err := runBench(context.Background(), tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: runBench(%q) = %v, want error containing %q", tc.name, tc.args, err, tc.want)
		}
		if d := time.Since(start); d > 15*time.Second {
			t.Errorf("%s: took %v", tc.name, d)
		}
	}
}

func TestBenchRelayOnlyFlag(t *testing.T) {
	tests := []struct {
		args []string
		want bench.RelayMode
	}{
		{[]string{"lecture", "--quiet"}, bench.RelayNone},
		{[]string{"--relay-only", "lecture", "--subscribers", "50"}, bench.RelaySubscribers},
		{[]string{"lecture", "--relay-only"}, bench.RelaySubscribers},
		{[]string{"lecture", "--relay-only=all", "--turn-pid", "7", "--turn-metrics", "http://127.0.0.1:9478/metrics"}, bench.RelayAll},
		{[]string{"--relay-only=subscribers", "audio-room"}, bench.RelaySubscribers},
	}
	for _, tc := range tests {
		fs, rf := benchFlags("bench")
		if err := parseInterspersed(fs, tc.args); err != nil {
			t.Fatalf("parse %q: %v", tc.args, err)
		}
		o, err := rf.options(fs)
		if err != nil {
			t.Fatalf("options %q: %v", tc.args, err)
		}
		if o.RelayOnly != tc.want {
			t.Errorf("%q: RelayOnly = %q, want %q", tc.args, o.RelayOnly, tc.want)
		}
		if tc.want == bench.RelayAll && (o.TURNPID != 7 || o.TURNMetricsURL != "http://127.0.0.1:9478/metrics") {
			t.Errorf("%q: TURNPID %d, TURNMetricsURL %q", tc.args, o.TURNPID, o.TURNMetricsURL)
		}
	}
	fs, _ := benchFlags("bench")
	fs.SetOutput(io.Discard)
	if err := parseInterspersed(fs, []string{"--relay-only=sometimes"}); err == nil || !strings.Contains(err.Error(), "subscribers or all") {
		t.Errorf("--relay-only=sometimes: %v, want an error naming the modes", err)
	}
}

// TestBenchFeedbackFlag: subscribers send browser-like RTCP unless told otherwise.
func TestBenchFeedbackFlag(t *testing.T) {
	for args, want := range map[string]bench.Feedback{
		"lecture": bench.FeedbackBrowser, "lecture --feedback sdk": bench.FeedbackSDK, "--feedback none lecture": bench.FeedbackNone,
	} {
		fs, rf := benchFlags("bench")
		if err := parseInterspersed(fs, strings.Fields(args)); err != nil {
			t.Fatalf("parse %q: %v", args, err)
		}
		o, err := rf.options(fs)
		if err != nil {
			t.Fatalf("options %q: %v", args, err)
		}
		if o.Feedback != want {
			t.Errorf("%q: Feedback = %q, want %q", args, o.Feedback, want)
		}
	}
	fs, rf := benchFlags("bench")
	if err := parseInterspersed(fs, []string{"--feedback", "chrome"}); err != nil {
		t.Fatal(err)
	}
	if _, err := rf.options(fs); err == nil || !strings.Contains(err.Error(), "browser, sdk or none") {
		t.Errorf("--feedback chrome: %v, want an error naming the modes", err)
	}
}

func TestBenchRoomsFlags(t *testing.T) {
	fs, rf := benchFlags("bench")
	cf := clusterFlags(fs)
	args := []string{"--rooms", "6", "--compare-direct", "--probes", "3", "--node-pid", "dev=42", "--node-pid", "sfu-2=43"}
	if err := parseInterspersed(fs, args); err != nil {
		t.Fatalf("parse %v: %v", args, err)
	}
	rf.rooms = cf.rooms
	o, err := rf.options(fs)
	if err != nil {
		t.Fatalf("options: %v", err)
	}
	if cf.rooms != 6 || !cf.compareDirect || cf.probes != 3 || len(cf.nodePIDs) != 2 || cf.nodePIDs["dev"] != 42 || cf.nodePIDs["sfu-2"] != 43 {
		t.Errorf("cluster flags from %v = %+v", args, cf)
	}
	// With --rooms the lecture is a small class: one teacher, four students.
	if n := o.Scenario.Participants(); n != 1+clusterLectureStudents {
		t.Errorf("lecture with --rooms has %d participants, want %d", n, 1+clusterLectureStudents)
	}
	f := pidFlag{}
	for _, bad := range []string{"x", "=5", "a=0", "a=-3", "a=b"} {
		if err := f.Set(bad); err == nil {
			t.Errorf("--node-pid %q accepted", bad)
		}
	}
	if err := f.Set("a=1"); err != nil {
		t.Fatal(err)
	}
	if err := f.Set("a=2"); err == nil {
		t.Error("a label given twice was accepted")
	}
}
