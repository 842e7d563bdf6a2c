package browser

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/clusterconf"
	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/tests/clustertest"
)

// The cluster scenario publishes tracks the page captured itself (userProvided): on a full
// reconnect livekit-client restarts the capture of tracks it created, and headless Chromium's
// fake camera then delivered no frames in most runs with two pages restarting at once
// (framesEncoded stayed 0 on the new sender; the server's answer was recvonly as it should
// be). User-provided tracks are republished as they are, so these tests measure the cluster,
// not the fake device.
type clusterData struct {
	NodeA, NodeB             string
	FirstFrameA, FirstFrameB float64
	SidsBefore               map[string]string
	Failover                 *struct {
		KilledAt float64
		A, B     struct {
			Ms  float64
			Sid string
		}
	}
}

// Issue 9, acceptance 2: two livekit-client pages connected to two different nodes' URLs
// end up in one room, on its owner node, and decode each other's video.
func TestClusterTwoNodes(t *testing.T) {
	h := newHarness(t)
	tc := clustertest.Start(t, clustertest.Options{Nodes: 3})
	const room = "browser-cluster"
	token := func(id string) string {
		return tc.Token(room, id, sfutest.CanPublish(true), sfutest.CanSubscribe(true), sfutest.CanPublishData(true))
	}
	var data clusterData
	h.run(t, runConfig{
		Scenario:  "cluster",
		Tokens:    map[string]string{"A": token("A"), "B": token("B")},
		URLs:      map[string]string{"A": tc.Nodes[0].URL(), "B": tc.Nodes[2].URL()},
		MinFrames: 20, WaitMs: 20_000, TimeoutMs: 60_000,
	}, &data)
	owner := tc.Owner(room)
	if data.NodeA != owner || data.NodeB != owner {
		t.Errorf("pages served by %q and %q, want both on the room's owner %q", data.NodeA, data.NodeB, owner)
	}
	if data.FirstFrameA < 0 || data.FirstFrameB < 0 {
		t.Errorf("pages did not decode each other: first frame A %v ms, B %v ms", data.FirstFrameA, data.FirstFrameB)
	}
	t.Logf("through %s and %s: both on %s, first frames after %.0f / %.0f ms",
		tc.Nodes[0].NodeID(), tc.Nodes[2].NodeID(), owner, data.FirstFrameA, data.FirstFrameB)
}

// Issue 9, acceptance 3 with Chromium: the room's node (a separate `atrium sfu` process) is
// killed with SIGKILL; both livekit-client pages reconnect on their own and decode each
// other's video again, from another node, within 10 s.
func TestClusterFailoverChromium(t *testing.T) {
	h := newHarness(t)
	pc := clustertest.StartProcCluster(t, 3)
	victim := pc.Nodes[0]
	const room = "browser-failover"
	lc := clusterconf.DefaultPlacement()
	lc.RedisAddr, lc.KeyPrefix = pc.Redis.Addr(), pc.Prefix
	leases, closeLeases := lc.Open()
	defer closeLeases()
	if o, err := leases.Acquire(context.Background(), room, victim.Name, 30*time.Second); err != nil || o != victim.Name {
		t.Fatalf("Acquire = %q, %v", o, err)
	}
	gw := "ws" + pc.Gateway.HTTP[len("http"):]
	tok := func(id string) string { return sfutest.TokenFor("devkey", "secret", room, id) }
	dir := t.TempDir()
	ready, kill := filepath.Join(dir, "ready"), filepath.Join(dir, "kill")
	killed := make(chan time.Time, 1)
	go func() {
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(ready); err == nil {
				at := time.Now()
				victim.Kill()
				_ = os.WriteFile(kill, []byte(strconv.FormatInt(at.UnixMilli(), 10)), 0o600)
				killed <- at
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		close(killed)
	}()
	var data clusterData
	h.run(t, runConfig{
		Scenario:  "cluster",
		Tokens:    map[string]string{"A": tok("A"), "B": tok("B")},
		URLs:      map[string]string{"A": gw, "B": gw},
		MinFrames: 20, WaitMs: 20_000, TimeoutMs: 90_000,
		ReadyFile: ready, KillFile: kill, KillWaitMs: 60_000,
	}, &data)
	if _, ok := <-killed; !ok {
		t.Fatal("the scenario never got ready for the kill")
	}
	if data.NodeA != victim.Name || data.NodeB != victim.Name {
		t.Fatalf("pages on %q and %q before the kill, want %q", data.NodeA, data.NodeB, victim.Name)
	}
	if data.Failover == nil {
		t.Fatal("no failover figures")
	}
	for name, f := range map[string]struct {
		Ms  float64
		Sid string
	}{"A": data.Failover.A, "B": data.Failover.B} {
		t.Logf("failover (livekit-client) %s: video decoded again %.0f ms after the kill", name, f.Ms)
		if f.Ms < 0 || f.Ms > 10_000 {
			t.Errorf("page %s: video back after %.0f ms, want within 10 s", name, f.Ms)
		}
	}
	if o, err := leases.Owner(context.Background(), room); err != nil || o == "" || o == victim.Name {
		t.Errorf("owner after failover = %q, %v; want another node", o, err)
	}
}

// Issue 9, drain with livekit-client: both pages' room is on a node drained with a 1 s
// deadline; at the deadline they are told to reconnect (LeaveRequest RECONNECT), land on
// another node, and decode each other's video again.
func TestClusterDrainChromium(t *testing.T) {
	h := newHarness(t)
	tc := clustertest.Start(t, clustertest.Options{Nodes: 3})
	drained := tc.Nodes[0]
	const room = "browser-drain"
	if o, err := tc.Leases.Acquire(context.Background(), room, drained.NodeID(), 30*time.Second); err != nil || o != drained.NodeID() {
		t.Fatalf("Acquire = %q, %v", o, err)
	}
	token := func(id string) string {
		return tc.Token(room, id, sfutest.CanPublish(true), sfutest.CanSubscribe(true), sfutest.CanPublishData(true))
	}
	dir := t.TempDir()
	ready, started := filepath.Join(dir, "ready"), filepath.Join(dir, "drained")
	go func() {
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			if _, err := os.Stat(ready); err == nil {
				at := time.Now()
				drained.Drain(time.Second)
				_ = os.WriteFile(started, []byte(strconv.FormatInt(at.UnixMilli(), 10)), 0o600)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	var data clusterData
	h.run(t, runConfig{
		Scenario:  "cluster",
		Tokens:    map[string]string{"A": token("A"), "B": token("B")},
		URLs:      map[string]string{"A": tc.GatewayURL(), "B": drained.URL()},
		MinFrames: 20, WaitMs: 20_000, TimeoutMs: 90_000,
		ReadyFile: ready, KillFile: started, KillWaitMs: 60_000,
	}, &data)
	if data.NodeA != drained.NodeID() || data.NodeB != drained.NodeID() {
		t.Fatalf("pages on %q and %q before the drain, want %q", data.NodeA, data.NodeB, drained.NodeID())
	}
	if data.Failover == nil {
		t.Fatal("no drain figures")
	}
	for name, ms := range map[string]float64{"A": data.Failover.A.Ms, "B": data.Failover.B.Ms} {
		t.Logf("drain (livekit-client, 1 s deadline) %s: video decoded again %.0f ms after the drain began", name, ms)
		if ms < 0 || ms > 10_000 {
			t.Errorf("page %s: video back after %.0f ms, want within 10 s", name, ms)
		}
	}
	if o := tc.Owner(room); o == "" || o == drained.NodeID() {
		t.Errorf("owner after the drain = %q, want another node", o)
	}
}
