package bench

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestNextStudents(t *testing.T) {
	cases := []struct {
		name  string
		tried map[int]bool
		start int
		want  int
	}{
		{"first trial", nil, 20, 20},
		{"doubles while passing", map[int]bool{20: true}, 20, 40},
		{"doubles from the largest pass", map[int]bool{20: true, 40: true}, 20, 80},
		{"capped at max", map[int]bool{640: true}, 20, 1000},
		{"max passed: done", map[int]bool{640: true, 1000: true}, 20, 0},
		{"bisects after a failure", map[int]bool{20: true, 40: false}, 20, 30},
		{"bisects up", map[int]bool{20: true, 40: false, 30: true}, 20, 35},
		{"still 5 apart at 40: goes on", map[int]bool{20: true, 40: false, 30: true, 35: true}, 20, 37},
		{"within 10% of the failing size: done", map[int]bool{20: true, 40: false, 30: true, 35: true, 37: true}, 20, 0},
		{"first trial failed: halves", map[int]bool{20: false}, 20, 10},
		{"nothing passes: stops at 2", map[int]bool{20: false, 10: false, 5: false, 2: false}, 20, 0},
		{"a pass above a failure is noise: bisects below the failure", map[int]bool{20: true, 40: false, 30: false, 35: true}, 20, 25},
		{"start beyond max", nil, 2000, 1000},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tried := c.tried
			if tried == nil {
				tried = map[int]bool{}
			}
			if got := nextStudents(tried, c.start, 1000, 0.1); got != c.want {
				t.Errorf("nextStudents(%v, start %d) = %d, want %d", c.tried, c.start, got, c.want)
			}
		})
	}
	// Whatever the verdicts, the search ends: a capacity of 137 is found within 10% in
	// a handful of trials.
	tried := map[int]bool{}
	for i := 0; ; i++ {
		if i > 20 {
			t.Fatalf("search did not end: %v", tried)
		}
		n := nextStudents(tried, 20, 1000, 0.1)
		if n == 0 {
			break
		}
		tried[n] = n <= 137
	}
	best := 0
	for n, ok := range tried {
		if ok && n > best {
			best = n
		}
	}
	if best > 137 || best < 124 {
		t.Errorf("found %d for a capacity of 137 (trials %v)", best, tried)
	}
}

func TestCFSQuota(t *testing.T) {
	for _, c := range []struct {
		cores float64
		want  int
		err   bool
	}{
		{0.2, 20000, false},
		{1, 100000, false},
		{2.5, 250000, false},
		{0.005, 0, true},
		{0, 0, true},
		{-1, 0, true},
		{1000, 0, true},
	} {
		got, err := cfsQuota(c.cores)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("cfsQuota(%v) = %d, %v; want %d, error %v", c.cores, got, err, c.want, c.err)
		}
	}
}

func TestTrialVerdict(t *testing.T) {
	ok := &Result{LossPercent: 0.1, Latency: Latency{P99: 20}}
	for _, c := range []struct {
		name   string
		res    *Result
		err    error
		pass   bool
		reason string
	}{
		{"within", ok, nil, true, ""},
		{"loss", &Result{LossPercent: 0.6, Latency: Latency{P99: 20}}, nil, false, "loss 0.60% > 0.50%"},
		{"latency", &Result{LossPercent: 0.1, Latency: Latency{P99: 51}}, nil, false, "latency p99 51.0 ms > 50 ms"},
		{"joins", &Result{Joins: Joins{Failed: 2}}, nil, false, "2 joins failed"},
		{"run error", ok, ErrDropped, false, ErrDropped.Error()},
		{"no result", nil, errors.New("boom"), false, "no result: boom"},
	} {
		pass, reason := trialVerdict(c.res, c.err, 0.5, 50)
		if pass != c.pass || reason != c.reason {
			t.Errorf("%s: verdict %v %q, want %v %q", c.name, pass, reason, c.pass, c.reason)
		}
	}
}

func TestPerNodeBound(t *testing.T) {
	for _, c := range []struct{ students, teachers, nodes, want int }{
		{100, 1, 1, 0}, {100, 1, 3, 34}, {30, 0, 3, 10}, {29, 1, 3, 10}, {10, 1, 2, 6},
	} {
		if got := perNodeBound(c.students, c.teachers, c.nodes); got != c.want {
			t.Errorf("perNodeBound(%d, %d, %d) = %d, want %d", c.students, c.teachers, c.nodes, got, c.want)
		}
	}
}

func TestParseCPUStatAndSums(t *testing.T) {
	st := parseCPUStat("nr_periods 120\nnr_throttled 30\nthrottled_time 1500000000\nnr_bursts 0\n")
	if st.Periods != 120 || st.Throttled != 30 || st.ThrottledTime != 1500*time.Millisecond {
		t.Errorf("parseCPUStat = %+v", st)
	}
	exp := `# HELP atrium_sfu_media_packets_out_total x
# TYPE atrium_sfu_media_packets_out_total counter
atrium_sfu_media_packets_out_total 1234
atrium_relay_packets_in_total{peer="a"} 10
atrium_relay_packets_in_total{peer="b"} 5.5 1700000000
atrium_relay_packets_in_total_other 99
`
	m, err := parseSums(strings.NewReader(exp), []string{"atrium_sfu_media_packets_out_total", "atrium_relay_packets_in_total", "missing"})
	if err != nil {
		t.Fatal(err)
	}
	if m["atrium_sfu_media_packets_out_total"] != 1234 || m["atrium_relay_packets_in_total"] != 15.5 {
		t.Errorf("parseSums = %v", m)
	}
	if _, ok := m["missing"]; ok {
		t.Error("a metric not exposed is reported")
	}
	if _, err := parseSums(strings.NewReader("atrium_relay_packets_in_total{x=\"1\" 3\n"), []string{"atrium_relay_packets_in_total"}); err == nil {
		t.Error("a malformed sample is accepted")
	}
}

// A process started through cpuGroup.command runs inside the group from its first
// instruction, with the quota set; the group is removed once the process is gone. Needs a
// writable cgroup v1 cpu controller (root on the bench machines).
func TestCPUGroup(t *testing.T) {
	root := "/sys/fs/cgroup/cpu"
	if f, err := os.OpenFile(filepath.Join(root, "cgroup.procs"), os.O_WRONLY, 0); err != nil {
		t.Skipf("no writable cgroup v1 cpu controller: %v", err)
	} else {
		f.Close()
	}
	g, err := newCPUGroup(root, "atrium-bench-test-"+strconv.Itoa(os.Getpid()), 0.3, 4096)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.remove() })
	raw, err := os.ReadFile(filepath.Join(g.dir, "cpu.cfs_quota_us"))
	if err != nil || strings.TrimSpace(string(raw)) != "30000" {
		t.Fatalf("quota %q, %v; want 30000", raw, err)
	}
	if raw, err := os.ReadFile(filepath.Join(g.dir, "cpu.shares")); err != nil || strings.TrimSpace(string(raw)) != "4096" {
		t.Fatalf("shares %q, %v; want 4096", raw, err)
	}
	argv := g.command("sleep", "5")
	cmd := exec.Command(argv[0], argv[1:]...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(cmd.Process.Pid)
	deadline := time.Now().Add(5 * time.Second)
	for {
		procs, _ := os.ReadFile(filepath.Join(g.dir, "cgroup.procs"))
		if strings.Contains("\n"+string(procs), "\n"+pid+"\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("pid %s not in %s/cgroup.procs: %q", pid, g.dir, procs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := g.stat(); err != nil {
		t.Error(err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if err := g.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(g.dir); !os.IsNotExist(err) {
		t.Errorf("group still there: %v", err)
	}
}
