package clustertest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/livekit/protocol/auth"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/sfu"
)

// The process tests run real `atrium sfu` and `atrium signal` processes (built once per
// test binary), so a node can be killed with SIGKILL: no goodbye, no cleanup.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// atriumBinary builds ./cmd/atrium into a temporary folder once.
func Binary(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "atrium-cluster-test-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "atrium")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/atrium-live/atrium/cmd/atrium").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func FreePort(t testing.TB, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// proc is one running atrium process.
type Proc struct {
	Name   string
	cmd    *exec.Cmd
	HTTP   string // base URL
	Gossip string // host:port
	done   chan struct{}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// startProc runs the atrium binary with args and ATRIUM_* env, logs to t.Log (prefixed),
// and kills it when the test ends.
func StartProc(t *testing.T, name string, env map[string]string, args ...string) *Proc {
	t.Helper()
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, done: make(chan struct{})}
	var logMu sync.Mutex
	testOver := false
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if strings.HasPrefix(line, "{") && !strings.Contains(line, `"level":"WARN"`) && !strings.Contains(line, `"level":"ERROR"`) && os.Getenv("ATRIUM_TEST_LOG") == "" {
				continue
			}
			logMu.Lock()
			if !testOver {
				t.Logf("[%s] %s", name, line)
			}
			logMu.Unlock()
		}
	}()
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		logMu.Lock()
		testOver = true
		logMu.Unlock()
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-p.done
		}
	})
	return p
}

// ProcCluster is n `atrium sfu` processes and one `atrium signal`, leases in a Redis of
// the test's own.
type ProcCluster struct {
	Nodes   []*Proc
	Gateway *Proc
	Redis   *Redis
	Prefix  string // lease key prefix
}

// StartProcCluster starts n node processes and a gateway; extra environment variables, if
// given, go to every node (e.g. relay settings).
func StartProcCluster(t *testing.T, n int, extra ...map[string]string) *ProcCluster {
	t.Helper()
	// Ports are picked free and then bound by the processes: another test can take one in
	// between, and that process exits. Such a start is retried once with fresh ports.
	for attempt := 1; ; attempt++ {
		pc, ok := startProcClusterOnce(t, n, extra...)
		if ok {
			return pc
		}
		for _, p := range append(pc.Nodes, pc.Gateway) {
			p.Kill()
		}
		if attempt == 2 {
			t.Fatalf("the process cluster did not form twice (see the processes' logs above)")
		}
		t.Logf("the process cluster did not form; retrying once with fresh ports")
	}
}

func startProcClusterOnce(t *testing.T, n int, extra ...map[string]string) (*ProcCluster, bool) {
	t.Helper()
	pc := &ProcCluster{Redis: StartRedis(t), Prefix: fmt.Sprintf("proc%d:", time.Now().UnixNano())}
	prefix := pc.Prefix
	// Every member gets every node as a seed (as with a Kubernetes headless service); the
	// processes start in any order.
	gossipPorts := make([]int, n)
	var seeds []string
	for i := range gossipPorts {
		gossipPorts[i] = FreePort(t, "tcp")
		seeds = append(seeds, fmt.Sprintf("127.0.0.1:%d", gossipPorts[i]))
	}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("sfu-%d", i+1)
		httpPort, udpPort, gossipPort := FreePort(t, "tcp"), FreePort(t, "udp"), gossipPorts[i]
		env := map[string]string{
			"ATRIUM_SFU_NODE_ID":                 id,
			"ATRIUM_SFU_HTTP_ADDR":               fmt.Sprintf("127.0.0.1:%d", httpPort),
			"ATRIUM_SFU_RTC_UDP_ADDR":            fmt.Sprintf("127.0.0.1:%d", udpPort),
			"ATRIUM_SFU_DRAIN_TIMEOUT":           "2s",
			"ATRIUM_SFU_CLUSTER_ENABLED":         "true",
			"ATRIUM_SFU_CLUSTER_PRESET":          "local",
			"ATRIUM_SFU_CLUSTER_BIND_ADDR":       fmt.Sprintf("127.0.0.1:%d", gossipPort),
			"ATRIUM_SFU_CLUSTER_SEEDS":           strings.Join(seeds, ","),
			"ATRIUM_SFU_CLUSTER_LOAD_INTERVAL":   "500ms",
			"ATRIUM_SFU_PLACEMENT_REDIS_ADDR":    pc.Redis.Addr(),
			"ATRIUM_SFU_PLACEMENT_KEY_PREFIX":    prefix,
			"ATRIUM_SFU_PLACEMENT_LEASE_TTL":     "3s",
			"ATRIUM_SFU_SIGNAL_RESUME_WINDOW":    "10s",
			"ATRIUM_SFU_ROOM_EMPTY_TIMEOUT":      "20s",
			"ATRIUM_SFU_SIGNAL_QUALITY_INTERVAL": "1s",
		}
		for _, e := range extra {
			for k, v := range e {
				env[k] = v
			}
		}
		p := StartProc(t, id, env, "sfu", "--dev", "--log-level", "info")
		p.HTTP = fmt.Sprintf("http://127.0.0.1:%d", httpPort)
		p.Gossip = fmt.Sprintf("127.0.0.1:%d", gossipPort)
		pc.Nodes = append(pc.Nodes, p)
	}
	gwPort, gwGossip := FreePort(t, "tcp"), FreePort(t, "tcp")
	pc.Gateway = StartProc(t, "gw-1", map[string]string{
		"ATRIUM_SIGNAL_NODE_ID":              "gw-1",
		"ATRIUM_SIGNAL_HTTP_ADDR":            fmt.Sprintf("127.0.0.1:%d", gwPort),
		"ATRIUM_SIGNAL_CLUSTER_BIND_ADDR":    fmt.Sprintf("127.0.0.1:%d", gwGossip),
		"ATRIUM_SIGNAL_CLUSTER_SEEDS":        strings.Join(seeds, ","),
		"ATRIUM_SIGNAL_PLACEMENT_REDIS_ADDR": pc.Redis.Addr(),
		"ATRIUM_SIGNAL_PLACEMENT_KEY_PREFIX": prefix,
		"ATRIUM_SIGNAL_PLACEMENT_LEASE_TTL":  "3s",
	}, "signal", "--dev")
	pc.Gateway.HTTP = fmt.Sprintf("http://127.0.0.1:%d", gwPort)
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range append(pc.Nodes, pc.Gateway) {
		for len(View(p.HTTP)) != n+1 {
			select {
			case <-p.done:
				t.Logf("%s exited during start-up", p.Name)
				return pc, false
			default:
			}
			if time.Now().After(deadline) {
				t.Logf("%s does not see the whole cluster after 30 s", p.Name)
				return pc, false
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return pc, true
}

// clusterView asks a process for its member list (nil while it is not answering).
func View(base string) []cluster.Meta {
	req, _ := http.NewRequest(http.MethodGet, base+"/admin/cluster", nil)
	req.Header.Set("Authorization", "Bearer "+OperatorToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var body struct {
		Members []cluster.Meta `json:"members"`
	}
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&body) != nil {
		return nil
	}
	return body.Members
}

// operatorToken may drain nodes and read the cluster view.
func OperatorToken() string {
	tok, err := access.NewToken{APIKey: sfu.DevAPIKey, APISecret: sfu.DevAPISecret, Identity: "ops",
		Grant: &auth.VideoGrant{RoomCreate: true, RoomList: true}}.Mint()
	if err != nil {
		panic(err)
	}
	return tok
}
