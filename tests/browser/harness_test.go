// Package browser holds Atrium's real-browser tests: Debian's chromium, driven headless by
// playwright-core from npm, runs pages that use livekit-client (also from npm) against an
// in-process SFU. Each test starts what it needs on 127.0.0.1 with port 0, runs one scenario
// of runner.js with a JSON config, and asserts on the JSON the scenario measured.
//
// Needs node, /usr/bin/chromium and tests/browser/node_modules (scripts/test-deps.sh installs
// all three); a missing one fails the test with a message saying so, never a silent skip.
package browser

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// defaultChromium is Debian's chromium package; ATRIUM_CHROMIUM overrides it.
const defaultChromium = "/usr/bin/chromium"

// harness locates the tools and serves the test pages; one per test.
type harness struct {
	dir      string // tests/browser
	node     string
	chromium string
	pageURL  string // index.html on the static server
}

// newHarness checks the browser-test dependencies and starts the static page server (closed in
// t.Cleanup). It fails the test, with the command that fixes it, when something is missing.
func newHarness(t *testing.T) *harness {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	h := &harness{dir: dir}
	h.node, err = exec.LookPath("node")
	if err != nil {
		t.Fatalf("browser tests need node on PATH (%v); run ./scripts/test-deps.sh", err)
	}
	h.chromium = os.Getenv("ATRIUM_CHROMIUM")
	if h.chromium == "" {
		h.chromium = defaultChromium
	}
	if _, err := os.Stat(h.chromium); err != nil {
		t.Fatalf("browser tests need Debian's chromium at %s (%v); run ./scripts/test-deps.sh", h.chromium, err)
	}
	lib := filepath.Join(dir, "node_modules", "livekit-client", "dist", "livekit-client.umd.js")
	for _, p := range []string{lib, filepath.Join(dir, "node_modules", "playwright-core", "package.json")} {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("browser tests need the npm packages in tests/browser/node_modules (%v); run ./scripts/test-deps.sh", err)
		}
	}

	mux := http.NewServeMux()
	mux.Handle("/", http.FileServer(http.Dir(filepath.Join(dir, "pages"))))
	mux.HandleFunc("/lib/livekit-client.umd.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, lib)
	})
	mux.HandleFunc("/lib/livekit-client.umd.js.map", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, lib+".map")
	})
	worker := filepath.Join(dir, "node_modules", "livekit-client", "dist", "livekit-client.e2ee.worker.js")
	mux.HandleFunc("/lib/livekit-client.e2ee.worker.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, worker) // end-to-end encryption (e2ee_test.go)
	})
	mux.HandleFunc("/favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent) // keeps a 404 out of the page console
	})
	srv := httptest.NewServer(mux) // 127.0.0.1, port 0
	t.Cleanup(srv.Close)
	h.pageURL = srv.URL + "/index.html"
	return h
}

// runConfig is what runner.js reads; scenario-specific fields are omitted when zero.
type runConfig struct {
	Scenario       string            `json:"scenario"`
	Chromium       string            `json:"chromium"`
	PageURL        string            `json:"pageURL"`
	SFUURL         string            `json:"sfuURL,omitempty"`
	Tokens         map[string]string `json:"tokens,omitempty"`
	RoomOptions    map[string]any    `json:"roomOptions,omitempty"`    // livekit-client RoomOptions
	ConnectOptions map[string]any    `json:"connectOptions,omitempty"` // livekit-client RoomConnectOptions
	TimeoutMs      int               `json:"timeoutMs"`
	WaitMs         int               `json:"waitMs,omitempty"`
	MinFrames      int               `json:"minFrames,omitempty"`
	Width          int               `json:"width,omitempty"`
	Height         int               `json:"height,omitempty"`
	Resolution     map[string]int    `json:"resolution,omitempty"`
	Simulcast      bool              `json:"simulcast,omitempty"`
	Phases         []qualityPhase    `json:"phases,omitempty"`
	ResumeWaitMs   int               `json:"resumeWaitMs,omitempty"` // dynacast: bound of the HIGH phase
	ExtraArgs      []string          `json:"extraArgs,omitempty"`    // more chromium flags
	Joins          int               `json:"joins,omitempty"`        // singlepc: how many times B joins
	E2EEKeys       map[string]string `json:"e2eeKeys,omitempty"`     // e2ee: each page's shared key ("" = no encryption)
	// cluster: each page's signal URL, and the failover handshake files.
	URLs       map[string]string `json:"urls,omitempty"`
	ReadyFile  string            `json:"readyFile,omitempty"`
	KillFile   string            `json:"killFile,omitempty"`
	KillWaitMs int               `json:"killWaitMs,omitempty"`
}

// qualityPhase is one step of the simulcast scenario: request Quality, then wait until B
// decodes the layer Expect names ("bottom": narrower than A's middle layer, "top": wider).
type qualityPhase struct {
	Quality string `json:"quality"`
	Expect  string `json:"expect"`
	WaitMs  int    `json:"waitMs,omitempty"`
}

// runResult is what runner.js writes; Data is decoded by each test into its own type.
type runResult struct {
	Scenario string          `json:"scenario"`
	OK       bool            `json:"ok"`
	Error    string          `json:"error"`
	Console  []string        `json:"console"` // the pages' console errors and warnings
	Data     json.RawMessage `json:"data"`
}

// run executes one scenario and decodes its data into out. The runner's log (progress, page
// console warnings and errors, livekit-client's debug log) is printed when the test fails, or
// always with ATRIUM_BROWSER_LOG=1. A scenario that broke off fails the test after decoding
// whatever it measured.
func (h *harness) run(t *testing.T, cfg runConfig, out any) {
	t.Helper()
	cfg.Chromium = h.chromium
	cfg.PageURL = h.pageURL
	if env := os.Getenv("ATRIUM_BROWSER_ROOM_OPTIONS"); env != "" {
		// For debugging, e.g. {"singlePeerConnection": false} to go straight to /rtc.
		if err := json.Unmarshal([]byte(env), &cfg.RoomOptions); err != nil {
			t.Fatalf("ATRIUM_BROWSER_ROOM_OPTIONS: %v", err)
		}
	}
	if cfg.TimeoutMs == 0 {
		cfg.TimeoutMs = 60_000
	}
	tmp := t.TempDir() // registered before the process starts, so removed after it has ended
	cfgPath := filepath.Join(tmp, "config.json")
	resPath := filepath.Join(tmp, "result.json")
	raw, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("marshal config: %v", err)
	}
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatalf("write config: %v", err)
	}
	browserTmp := filepath.Join(tmp, "browser")
	if err := os.Mkdir(browserTmp, 0o700); err != nil {
		t.Fatalf("mkdir: %v", err)
	}

	// The runner bounds the scenario itself; this outer bound only catches a wedged runner.
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.TimeoutMs)*time.Millisecond+30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, h.node, "runner.js", cfgPath, resPath)
	cmd.Dir = h.dir
	// TMPDIR: chromium's fresh user-data-dir and playwright's scratch files land in the test's
	// temp dir. SIGTERM first lets playwright close chromium; WaitDelay then kills.
	cmd.Env = append(os.Environ(), "TMPDIR="+browserTmp)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	logBuf := &lockedBuffer{}
	cmd.Stdout = logBuf
	cmd.Stderr = logBuf

	start := time.Now()
	runErr := cmd.Run()
	t.Logf("scenario %s ran in %v", cfg.Scenario, time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("ATRIUM_BROWSER_LOG") == "1" {
			t.Logf("runner log for %s:\n%s", cfg.Scenario, logBuf.String())
		}
	})

	resRaw, err := os.ReadFile(resPath)
	if err != nil {
		t.Fatalf("scenario %s wrote no result (%v; runner: %v)", cfg.Scenario, err, runErr)
	}
	var res runResult
	if err := json.Unmarshal(resRaw, &res); err != nil {
		t.Fatalf("scenario %s: decode result: %v\n%s", cfg.Scenario, err, resRaw)
	}
	if len(res.Data) > 0 {
		if err := json.Unmarshal(res.Data, out); err != nil {
			t.Fatalf("scenario %s: decode data: %v\n%s", cfg.Scenario, err, res.Data)
		}
	}
	var exitErr *exec.ExitError
	switch {
	case !res.OK:
		t.Fatalf("scenario %s broke off: %s\npage console errors and warnings:\n  %s",
			cfg.Scenario, firstLine(res.Error), strings.Join(res.Console, "\n  "))
	case runErr != nil && !errors.As(runErr, &exitErr):
		t.Fatalf("scenario %s: runner: %v", cfg.Scenario, runErr)
	case runErr != nil:
		t.Fatalf("scenario %s: runner exited with %v", cfg.Scenario, runErr)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// lockedBuffer collects the runner's stdout and stderr, written from two copier goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// rtpStats mirrors statsOf() in pages/harness.js: one inbound-rtp or outbound-rtp entry.
type rtpStats struct {
	Type                    string  `json:"type"`
	Kind                    string  `json:"kind"`
	RID                     string  `json:"rid"`
	SSRC                    uint32  `json:"ssrc"`
	Packets                 int64   `json:"packets"`
	Bytes                   int64   `json:"bytes"`
	PacketsLost             int64   `json:"packetsLost"`
	FramesDecoded           int     `json:"framesDecoded"`
	FramesEncoded           int     `json:"framesEncoded"`
	KeyFramesDecoded        int     `json:"keyFramesDecoded"`
	FrameWidth              int     `json:"frameWidth"`
	FrameHeight             int     `json:"frameHeight"`
	FramesPerSecond         float64 `json:"framesPerSecond"`
	AudioLevel              float64 `json:"audioLevel"`
	TotalAudioEnergy        float64 `json:"totalAudioEnergy"`
	QualityLimitationReason string  `json:"qualityLimitationReason"`
	Codec                   string  `json:"codec"`
	FramesReceived          int     `json:"framesReceived"`
	FramesDropped           int     `json:"framesDropped"`
	NackCount               int     `json:"nackCount"`
	PliCount                int     `json:"pliCount"`
}

// trackStats is one local or remote track's stats, with the selected ICE candidate pair.
type trackStats struct {
	RTP                 []rtpStats `json:"rtp"`
	LocalCandidateType  string     `json:"localCandidateType"`
	RemoteCandidateType string     `json:"remoteCandidateType"`
	LocalAddress        string     `json:"localAddress"`
	RemoteAddress       string     `json:"remoteAddress"`
	From                string     `json:"from"`
	SID                 string     `json:"sid"`
	Kind                string     `json:"kind"`
	Source              string     `json:"source"`
	ElementWidth        int        `json:"elementWidth"`
}

// first returns the first RTP entry of kind in stats, or false.
func first(stats []trackStats, kind string) (trackStats, rtpStats, bool) {
	for _, s := range stats {
		if s.Kind == kind && len(s.RTP) > 0 {
			return s, s.RTP[0], true
		}
	}
	return trackStats{}, rtpStats{}, false
}

func (r rtpStats) String() string {
	return fmt.Sprintf("%s %s rid=%q packets=%d bytes=%d lost=%d decoded=%d encoded=%d %dx%d fps=%.0f codec=%s",
		r.Type, r.Kind, r.RID, r.Packets, r.Bytes, r.PacketsLost, r.FramesDecoded, r.FramesEncoded,
		r.FrameWidth, r.FrameHeight, r.FramesPerSecond, r.Codec)
}
