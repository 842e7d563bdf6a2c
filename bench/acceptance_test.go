package bench

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

func TestMain(m *testing.M) {
	// The SDK logs pion's chatter through its package logger; keep test output readable. Its
	// discard logger still formats pion's debug lines and races with pion: keep errors only.
	sfutest.QuietSDK()
	os.Exit(m.Run())
}

// TestLectureAgainstInProcessSFU is the acceptance check of issue 5: a small lecture
// (1 teacher -> 5 students) against a real in-process SFU, asserted through the JSON the
// tester writes.
func TestLectureAgainstInProcessSFU(t *testing.T) {
	srv := sfutest.Serve(t)
	scn, err := Preset("lecture", PresetParams{Subscribers: 5})
	if err != nil {
		t.Fatal(err)
	}
	scn.Duration = 4 * time.Second
	res, err := Run(context.Background(), Options{Scenario: scn,
		Target: Target{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: srv.APISecret()},
		Grace:  10 * time.Second})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	path := filepath.Join(t.TempDir(), "result.json")
	if err := WriteJSONFile(path, res); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Joins struct {
			OK, Failed       int
			WSToFirstMediaMs struct {
				N             int
				P50, P95, P99 float64
			} `json:"ws_to_first_media_ms"`
		} `json:"joins"`
		Audio, Video struct {
			ReceivedPackets uint64  `json:"received_packets"`
			LossPercent     float64 `json:"loss_percent"`
		}
		LossPercent float64 `json:"loss_percent"`
		Latency     struct {
			Samples            uint64
			P50, P90, P99, Max float64
		} `json:"latency_ms"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("result JSON: %v\n%s", err, raw)
	}
	if got.Joins.OK != 6 || got.Joins.Failed != 0 {
		t.Errorf("joins ok/failed = %d/%d, want 6/0", got.Joins.OK, got.Joins.Failed)
	}
	if got.Audio.ReceivedPackets == 0 || got.Video.ReceivedPackets == 0 {
		t.Errorf("received audio/video packets = %d/%d, want both > 0", got.Audio.ReceivedPackets, got.Video.ReceivedPackets)
	}
	if got.LossPercent >= 2 || got.Audio.LossPercent >= 2 || got.Video.LossPercent >= 2 {
		t.Errorf("loss = %.3f%% (audio %.3f%%, video %.3f%%), want < 2%%", got.LossPercent, got.Audio.LossPercent, got.Video.LossPercent)
	}
	l := got.Latency
	if l.Samples == 0 || l.P50 <= 0 || l.P90 < l.P50 || l.P99 < l.P90 || l.Max < l.P99 {
		t.Errorf("latency = %+v, want ordered percentiles > 0", l)
	}
	if j := got.Joins.WSToFirstMediaMs; j.N != 5 || j.P50 <= 0 {
		t.Errorf("ws->first media = %+v, want 5 samples > 0", j)
	}
	if t.Failed() {
		t.Logf("result:\n%s", raw)
	}
}

// H.264 with simulcast, students asking for the low layer: media flows in that codec and the
// students receive the quarter-size layer, not the top one.
func TestH264SimulcastLowQuality(t *testing.T) {
	srv := sfutest.Serve(t)
	scn, err := Preset("lecture", PresetParams{Subscribers: 2, SubscribeQuality: "low"})
	if err != nil {
		t.Fatal(err)
	}
	scn.Duration = 4 * time.Second
	scn.Video.Codec = "h264"
	scn.Video.Simulcast = true
	res, err := Run(context.Background(), Options{Scenario: scn,
		Target: Target{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: srv.APISecret()}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.Video.ReceivedPackets == 0 || res.Video.LossPercent >= 2 {
		t.Fatalf("video received %d packets, loss %.2f%%; want > 0 and < 2%%", res.Video.ReceivedPackets, res.Video.LossPercent)
	}
	// Top layer 1.5 Mb/s, low layer 150 kb/s: per student, well under 600 kb/s.
	perStudent := float64(res.Video.ReceivedBytes*8) / res.DurationS / 2
	if perStudent > 600_000 {
		t.Errorf("video per student %.0f b/s, want the low layer (about 150 kb/s)", perStudent)
	}
}

// Run leaves nothing of its own running: no tester or SDK goroutine survives it (the
// in-process server's own goroutines are not its business).
func TestRunLeavesNoGoroutines(t *testing.T) {
	srv := sfutest.Serve(t)
	resp, err := http.Get(srv.HTTPURL() + "/healthz") // the server's goroutines exist from here on
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	ignore := goleak.IgnoreCurrent()
	scn, _ := Preset("lecture", PresetParams{Subscribers: 2})
	scn.Duration = 2 * time.Second
	if _, err := Run(context.Background(), Options{Scenario: scn,
		Target: Target{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: srv.APISecret()}}); err != nil {
		t.Fatalf("Run: %v", err)
	}
	var leak error
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if leak = goleak.Find(ignore); leak == nil || !ours(leak.Error()) {
			return
		}
	}
	t.Errorf("goroutines left by Run:\n%v", leak)
}

// ours reports whether a goroutine dump involves the tester or its SDK.
func ours(dump string) bool {
	return strings.Contains(dump, "atrium/bench.") || strings.Contains(dump, "server-sdk-go")
}

// A server that goes away mid-run must not read as a clean run: the dropped participants
// are counted and Run fails. (Nothing is "lost": the publisher could not send either.)
func TestServerGoneMidRun(t *testing.T) {
	cfg := sfutest.Config()
	cfg.DrainTimeout = 500 * time.Millisecond
	srv, err := sfu.New(cfg, sfu.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		stop()
		<-done
	}()
	time.AfterFunc(2500*time.Millisecond, stop)

	scn, _ := Preset("lecture", PresetParams{Subscribers: 2})
	scn.Duration = 6 * time.Second
	res, err := Run(context.Background(), Options{Scenario: scn, Grace: 5 * time.Second,
		Target: Target{URL: "ws://" + srv.Addr().String(), APIKey: sfu.DevAPIKey, APISecret: sfu.DevAPISecret}})
	if !errors.Is(err, ErrDropped) {
		t.Fatalf("Run = %v, want ErrDropped", err)
	}
	t.Logf("server gone: %v; loss %.1f%%, undelivered audio %d video %d", err, res.LossPercent,
		res.Audio.UndeliveredAtEnd, res.Video.UndeliveredAtEnd)
	if res.Joins.Dropped != 3 {
		t.Errorf("dropped = %d, want all 3 participants", res.Joins.Dropped)
	}
	if !strings.Contains(err.Error(), "3 of 3") {
		t.Errorf("error %q does not say how many were dropped", err)
	}
}

// Bad input must fail clearly, quickly and with no result to misread.
func TestBadTargetsFailFast(t *testing.T) {
	srv := sfutest.Serve(t)
	closed := closedPortURL(t)
	scn, err := Preset("lecture", PresetParams{Subscribers: 3})
	if err != nil {
		t.Fatal(err)
	}
	scn.Duration = 3 * time.Second
	tests := []struct {
		name   string
		target Target
		want   string
	}{
		{"unreachable", Target{URL: closed, APIKey: "devkey", APISecret: "secret"}, "connection refused"},
		{"wrong secret", Target{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: "not-the-secret"}, "could not join"},
		{"unknown key", Target{URL: srv.URL(), APIKey: "nobody", APISecret: "secret"}, "could not join"},
		{"bad scheme", Target{URL: "ftp://127.0.0.1:1", APIKey: "k", APISecret: "s"}, "scheme"},
		{"no secret", Target{URL: srv.URL(), APIKey: "k"}, "required"},
	}
	for _, tc := range tests {
		start := time.Now()
		res, err := Run(context.Background(), Options{Scenario: scn, Target: tc.target, Grace: 2 * time.Second})
		took := time.Since(start)
		t.Logf("%s: %v (after %v)", tc.name, err, took.Round(time.Millisecond))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Run error = %v, want one containing %q", tc.name, err, tc.want)
		}
		if res != nil {
			t.Errorf("%s: Run returned a result with an aborted run", tc.name)
		}
		if took > scn.Duration+2*time.Second {
			t.Errorf("%s: Run took %v, want within duration + grace (%v)", tc.name, took, scn.Duration+2*time.Second)
		}
	}
}

// A server that accepts connections and never answers must not hang the tester.
func TestSilentServerIsBounded(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	scn, _ := Preset("lecture", PresetParams{Subscribers: 2})
	scn.Duration = 2 * time.Second
	grace := 2 * time.Second
	start := time.Now()
	_, err = Run(context.Background(), Options{Scenario: scn, Grace: grace,
		Target: Target{URL: "ws://" + ln.Addr().String(), APIKey: "devkey", APISecret: "secret"}})
	took := time.Since(start)
	t.Logf("silent server: %v (after %v)", err, took.Round(time.Millisecond))
	if err == nil {
		t.Error("Run(silent server) = nil error, want failure")
	}
	if took > scn.Duration+grace+500*time.Millisecond {
		t.Errorf("Run(silent server) took %v, want within duration + grace (%v)", took, scn.Duration+grace)
	}
}

func TestServerPIDMustExist(t *testing.T) {
	scn, _ := Preset("lecture", PresetParams{})
	_, err := Run(context.Background(), Options{Scenario: scn, ServerPID: 1 << 30,
		Target: Target{URL: "ws://127.0.0.1:1", APIKey: "k", APISecret: "s"}})
	if err == nil || !strings.Contains(err.Error(), "server-pid") {
		t.Errorf("Run(missing server pid) = %v, want a --server-pid error", err)
	}
	if errors.Is(err, ErrAborted) {
		t.Errorf("Run(missing server pid) started joining: %v", err)
	}
}

// closedPortURL returns a ws:// URL on 127.0.0.1 where nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "ws://" + addr
}
