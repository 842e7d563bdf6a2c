package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/bench"
	"github.com/atrium-live/atrium/bench/udpbase"
	"github.com/atrium-live/atrium/pkg/version"
)

const benchUsage = `Usage:
  atrium bench [SCENARIO] [flags]              run a scenario against one server
  atrium bench --rooms K [--compare-direct] [SCENARIO] [flags]
                                               K rooms of the scenario through a cluster
                                               gateway (or node): per-node rooms,
                                               participants and CPU
  atrium bench compare --a URL --b URL [SCENARIO] [flags]
                                               the same scenario against two servers, A B A B
  atrium bench scale-out --node-quota CORES [--nodes 1,3] [SCENARIO] [flags]
                                               the largest lecture within loss and latency
                                               criteria on 1 node and on N nodes, each node
                                               a process held to CORES by a cgroup
  atrium bench udp-baseline [flags]            raw UDP forwarding limit on loopback
  atrium bench summarize --json F --md F DIR   gather a suite directory (scripts/bench.sh)

SCENARIO is lecture (default), meeting, audio-room, or a YAML scenario file
(see docs/bench.md); it may also be given as --scenario.
`

// runBench dispatches `atrium bench` and its sub-subcommands.
func runBench(ctx context.Context, args []string) error {
	if len(args) > 0 {
		switch args[0] {
		case "udp-baseline":
			return runBenchUDP(ctx, args[1:])
		case "compare":
			return runBenchCompare(ctx, args[1:])
		case "summarize":
			return runBenchSummarize(args[1:])
		case "scale-out":
			return runBenchScaleOut(ctx, args[1:])
		}
	}
	fs, rf := benchFlags("bench")
	cf := clusterFlags(fs)
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	rf.rooms = cf.rooms
	opts, err := rf.options(fs)
	if err != nil {
		return err
	}
	if cf.rooms > 0 || cf.compareDirect || len(cf.nodePIDs) > 0 {
		return runBenchCluster(ctx, rf, cf, opts)
	}
	stopProfile, err := startCPUProfile(rf.cpuProfile)
	if err != nil {
		return err
	}
	res, runErr := bench.Run(ctx, opts)
	if err := stopProfile(); err != nil {
		return errors.Join(runErr, err)
	}
	return rf.report(res, runErr)
}

// startCPUProfile profiles the tester itself (to see whether it, not the server, is the
// bottleneck) into path; an empty path profiles nothing.
func startCPUProfile(path string) (stop func() error, err error) {
	if path == "" {
		return func() error { return nil }, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// runFlags are the flags of a scenario run, shared by run and compare.
type runFlags struct {
	scenario, url, apiKey, apiSecret, room, codec, quality, json, logLevel, cpuProfile string
	turnMetrics                                                                        string
	publishers, subscribers, serverPID, turnPID, fps, videoBitrate, rooms              int
	relayOnly                                                                          relayFlag
	feedback                                                                           string
	joinRate                                                                           float64
	duration, grace, joinTimeout                                                       time.Duration
	simulcast, quiet, lean                                                             bool
}

func benchFlags(name string) (*flag.FlagSet, *runFlags) {
	fs := flag.NewFlagSet("atrium "+name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), benchUsage, "\nFlags:\n")
		fs.PrintDefaults()
	}
	rf := &runFlags{}
	def := bench.DefaultScenario()
	fs.StringVar(&rf.scenario, "scenario", "lecture", "lecture, meeting, audio-room or a YAML scenario file")
	fs.StringVar(&rf.url, "url", "ws://127.0.0.1:7880", "server URL (ws, wss, http, https)")
	fs.StringVar(&rf.apiKey, "api-key", "devkey", "API key")
	fs.StringVar(&rf.apiSecret, "api-secret", "secret", "API secret")
	fs.StringVar(&rf.room, "room", "", "room name (default: a fresh random one)")
	fs.IntVar(&rf.publishers, "publishers", 0, "publishers (0: scenario default: lecture 1, meeting 10, audio-room 5)")
	fs.IntVar(&rf.subscribers, "subscribers", 0, "subscribers (0: scenario default: lecture 10, meeting 0 extra, audio-room 50)")
	fs.Float64Var(&rf.joinRate, "join-rate", def.JoinRate, "participants joining per second")
	fs.DurationVar(&rf.duration, "duration", def.Duration, "run length from the first join")
	fs.StringVar(&rf.codec, "codec", def.Video.Codec, "video codec: vp8 or h264")
	fs.IntVar(&rf.videoBitrate, "video-bitrate", def.Video.Bitrate, "video bitrate of the top layer, b/s")
	fs.IntVar(&rf.fps, "fps", def.Video.FPS, "video frames per second")
	fs.BoolVar(&rf.simulcast, "simulcast", false, "publish three simulcast layers")
	fs.StringVar(&rf.quality, "subscribe-quality", "", "simulcast layer subscribers ask for: low, medium, high")
	fs.IntVar(&rf.serverPID, "server-pid", 0, "sample this server process's CPU and RSS from /proc")
	fs.StringVar(&rf.feedback, "feedback", string(bench.FeedbackBrowser), "RTCP subscribers send: browser (like livekit-client in Chrome: RR, TWCC every 50 ms, NACK, PLI), sdk (server-sdk-go defaults: RR, TWCC every 100 ms, NACK) or none (lean: no RTCP, flatters the server)")
	fs.BoolVar(&rf.lean, "lean", false, "subscribers are lean clients: real signalling, ICE, DTLS and SRTP without a PeerConnection and without RTCP (implies --feedback none): one tester core receives for several hundred subscribers")
	fs.Var(&rf.relayOnly, "relay-only", "subscribers (bare --relay-only) or all (--relay-only=all, publishers too) connect with ICE transport policy relay, through the TURN relay the server hands out")
	fs.IntVar(&rf.turnPID, "turn-pid", 0, "sample this TURN relay process's CPU and RSS (relayed packets per TURN CPU-second); needs --relay-only")
	fs.StringVar(&rf.turnMetrics, "turn-metrics", "", "the relay's Prometheus URL (http://127.0.0.1:9478/metrics): count relayed packets there instead of estimating them")
	fs.StringVar(&rf.json, "json", "", "write the result as JSON to this file (- for stdout)")
	fs.DurationVar(&rf.grace, "grace", 10*time.Second, "teardown bound beyond --duration")
	fs.DurationVar(&rf.joinTimeout, "join-timeout", 10*time.Second, "bound on one join")
	fs.BoolVar(&rf.quiet, "quiet", false, "no live progress")
	fs.StringVar(&rf.logLevel, "log-level", "warn", "tester log level (debug shows each failed join)")
	fs.StringVar(&rf.cpuProfile, "cpuprofile", "", "write a CPU profile of the tester itself to this file")
	return fs, rf
}

// parseInterspersed parses flags that may come after one positional SCENARIO argument.
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return nil
	}
	first, rest := fs.Arg(0), fs.Args()[1:]
	if err := fs.Set("scenario", first); err != nil {
		return err
	}
	if err := fs.Parse(rest); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return nil
}

// options builds the run's options: the scenario (a preset or a file), then the flags that
// were set explicitly on top.
func (rf *runFlags) options(fs *flag.FlagSet) (bench.Options, error) {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var scn bench.Scenario
	var err error
	if isPreset(rf.scenario) {
		subs := rf.subscribers
		if rf.rooms > 0 && subs == 0 && rf.scenario == "lecture" {
			subs = clusterLectureStudents
		}
		scn, err = bench.Preset(rf.scenario, bench.PresetParams{Publishers: rf.publishers,
			Subscribers: subs, SubscribeQuality: rf.quality})
	} else {
		scn, err = bench.LoadScenario(rf.scenario, os.LookupEnv)
		if err == nil && (set["publishers"] || set["subscribers"]) {
			err = errors.New("--publishers and --subscribers apply to the built-in scenarios; set counts in the file")
		}
	}
	if err != nil {
		return bench.Options{}, err
	}
	if set["room"] {
		scn.Room = rf.room
	}
	if set["join-rate"] || isPreset(rf.scenario) {
		scn.JoinRate = rf.joinRate
	}
	if set["duration"] || isPreset(rf.scenario) {
		scn.Duration = rf.duration
	}
	if set["codec"] {
		scn.Video.Codec = strings.ToLower(rf.codec)
	}
	if set["video-bitrate"] {
		scn.Video.Bitrate = rf.videoBitrate
	}
	if set["fps"] {
		scn.Video.FPS = rf.fps
	}
	if set["simulcast"] {
		scn.Video.Simulcast = rf.simulcast
	}
	if set["subscribe-quality"] {
		for i := range scn.Groups {
			if scn.Groups[i].Subscribe {
				scn.Groups[i].SubscribeQuality = rf.quality
			}
		}
	}
	if err := scn.Validate(); err != nil {
		return bench.Options{}, err
	}
	logger, err := newBenchLogger(rf.logLevel)
	if err != nil {
		return bench.Options{}, err
	}
	if rf.logLevel != "debug" {
		// The SDK logs pion's per-connection chatter through its package logger. Keep its
		// errors only (its discard logger still formats pion's debug lines, racing with pion).
		sdkLog, err := protoLogger.NewZapLogger(&protoLogger.Config{Level: "error"})
		if err != nil {
			return bench.Options{}, fmt.Errorf("sdk logger: %w", err)
		}
		lksdk.SetLogger(sdkLog)
	}
	fb, err := bench.ParseFeedback(rf.feedback)
	if err != nil {
		return bench.Options{}, fmt.Errorf("--feedback: %w", err)
	}
	if rf.lean {
		if set["feedback"] && fb != bench.FeedbackNone {
			return bench.Options{}, errors.New("--lean subscribers send no RTCP: --feedback must be none")
		}
		fb = bench.FeedbackNone
	}
	opts := bench.Options{Scenario: scn, ServerPID: rf.serverPID, RelayOnly: rf.relayOnly.mode, Feedback: fb, Lean: rf.lean,
		TURNPID: rf.turnPID, TURNMetricsURL: rf.turnMetrics, Grace: rf.grace, JoinTimeout: rf.joinTimeout,
		Target: bench.Target{URL: rf.url, APIKey: rf.apiKey, APISecret: rf.apiSecret}, Logger: logger}
	// Direct groups (a scenario file's `direct: true`) join the owner node the target names.
	opts.OwnerURL = bench.OwnerURLFromCluster(opts.Target, &http.Client{Timeout: 5 * time.Second})
	if !rf.quiet {
		opts.Progress = os.Stderr
	}
	return opts, nil
}

// relayFlag is --relay-only: a bare flag means subscribers, =all adds the publishers.
type relayFlag struct{ mode bench.RelayMode }

func (f *relayFlag) String() string {
	if f == nil || f.mode == bench.RelayNone {
		return ""
	}
	return string(f.mode)
}

func (f *relayFlag) Set(s string) error {
	m, err := bench.ParseRelayMode(s)
	if err != nil {
		return err
	}
	f.mode = m
	return nil
}

// IsBoolFlag lets --relay-only stand alone (flag then sets "true", which means subscribers).
func (f *relayFlag) IsBoolFlag() bool { return true }

func isPreset(name string) bool {
	for _, p := range bench.Presets {
		if p == name {
			return true
		}
	}
	return false
}

func newBenchLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("--log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// report prints the table, writes the JSON, and returns the run's error (which makes the
// exit status non-zero) after the figures are out.
func (rf *runFlags) report(res *bench.Result, runErr error) error {
	if res != nil {
		out := io.Writer(os.Stdout)
		if rf.json == "-" {
			out = os.Stderr
		}
		if err := bench.WriteTable(out, res); err != nil {
			return err
		}
		if rf.json != "" {
			if err := bench.WriteJSONFile(rf.json, res); err != nil {
				return errors.Join(runErr, err)
			}
		}
	}
	return runErr
}

func runBenchCompare(ctx context.Context, args []string) error {
	fs, rf := benchFlags("bench compare")
	var aURL, bURL, aKey, aSecret, bKey, bSecret string
	var aPID, bPID, rounds int
	fs.StringVar(&aURL, "a", "", "server A URL (required)")
	fs.StringVar(&bURL, "b", "", "server B URL (required)")
	fs.StringVar(&aKey, "a-api-key", "", "server A API key (default --api-key)")
	fs.StringVar(&aSecret, "a-api-secret", "", "server A API secret (default --api-secret)")
	fs.StringVar(&bKey, "b-api-key", "", "server B API key (default --api-key)")
	fs.StringVar(&bSecret, "b-api-secret", "", "server B API secret (default --api-secret)")
	fs.IntVar(&aPID, "a-pid", 0, "server A process to sample")
	fs.IntVar(&bPID, "b-pid", 0, "server B process to sample")
	fs.IntVar(&rounds, "rounds", 2, "A B pairs to run")
	if err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if aURL == "" || bURL == "" {
		return errors.New("compare needs --a URL and --b URL")
	}
	opts, err := rf.options(fs)
	if err != nil {
		return err
	}
	or := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	c, err := bench.Compare(ctx, bench.CompareOptions{Run: opts, Rounds: rounds, APID: aPID, BPID: bPID,
		A: bench.Target{URL: aURL, APIKey: or(aKey, rf.apiKey), APISecret: or(aSecret, rf.apiSecret)},
		B: bench.Target{URL: bURL, APIKey: or(bKey, rf.apiKey), APISecret: or(bSecret, rf.apiSecret)},
		OnRun: func(side string, round int, res *bench.Result, err error) {
			fmt.Fprintf(os.Stderr, "--- %s run %d", side, round)
			if err != nil {
				fmt.Fprintf(os.Stderr, " failed: %v", err)
			}
			fmt.Fprintln(os.Stderr)
		}})
	if c != nil && (len(c.A) > 0 || len(c.B) > 0) {
		if werr := c.WriteTable(os.Stdout); werr != nil {
			return werr
		}
		if rf.json != "" {
			if werr := bench.WriteJSONFile(rf.json, c); werr != nil {
				return errors.Join(err, werr)
			}
		}
	}
	return err
}

func runBenchUDP(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("atrium bench udp-baseline", flag.ContinueOnError)
	var p udpbase.Params
	var mode, jsonPath string
	fs.IntVar(&p.Receivers, "receivers", 10, "receivers each packet is forwarded to")
	fs.IntVar(&p.Rate, "rate", 10000, "packets per second offered to the relay")
	fs.IntVar(&p.Size, "size", 1200, "packet size, bytes")
	fs.DurationVar(&p.Duration, "duration", 3*time.Second, "length of each measurement")
	fs.IntVar(&p.BatchSize, "batch", 64, "messages per sendmmsg/recvmmsg in batched mode")
	fs.StringVar(&mode, "mode", "both", "plain, batched or both")
	fs.StringVar(&jsonPath, "json", "", "write the results as JSON to this file (- for stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var modes []bool
	switch mode {
	case "plain":
		modes = []bool{false}
	case "batched":
		modes = []bool{true}
	case "both":
		modes = []bool{false, true}
	default:
		return fmt.Errorf("--mode %q: want plain, batched or both", mode)
	}
	var results []udpbase.Result
	for _, batched := range modes {
		p.Batched = batched
		res, err := udpbase.Run(ctx, p)
		if err != nil {
			return err
		}
		results = append(results, res)
		fmt.Printf("udp-baseline %-7s 1 -> %d x %d B: in %d, forwarded %d, received %d (loss %.3f%%), relay cpu %.2f s (%.0f%%): %.0f pkt per cpu-s, %.2f us/pkt\n",
			res.Mode, res.Receivers, res.Size, res.PacketsIn, res.PacketsForwarded, res.PacketsReceived,
			res.LossPercent, res.RelayCPUSeconds, res.RelayCPUPercent, res.ForwardedPerCPUSecond, res.CPUMicrosPerPacket)
	}
	if jsonPath != "" {
		return bench.WriteJSONFile(jsonPath, results)
	}
	return nil
}

func runBenchSummarize(args []string) error {
	fs := flag.NewFlagSet("atrium bench summarize", flag.ContinueOnError)
	var jsonPath, mdPath string
	fs.StringVar(&jsonPath, "json", "", "write the suite as JSON here")
	fs.StringVar(&mdPath, "md", "", "write the markdown summary here (default stdout)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("summarize needs one directory of run results")
	}
	s, err := bench.LoadSuite(fs.Arg(0), bench.DetectMachine(version.Version))
	if err != nil {
		return err
	}
	if jsonPath != "" {
		if err := bench.WriteJSONFile(jsonPath, s); err != nil {
			return err
		}
	}
	if mdPath == "" {
		return s.WriteMarkdown(os.Stdout)
	}
	f, err := os.Create(mdPath)
	if err != nil {
		return fmt.Errorf("summarize: %w", err)
	}
	if err := s.WriteMarkdown(f); err != nil {
		f.Close()
		return fmt.Errorf("summarize: %w", err)
	}
	return f.Close()
}

// clusterLectureStudents is the lecture's class size with --rooms: many small classes
// (one teacher, four students) rather than one big one.
const clusterLectureStudents = 4

// clusterRunFlags are the flags of `atrium bench --rooms K`.
type clusterRunFlags struct {
	rooms, probes int
	compareDirect bool
	nodePIDs      pidFlag
}

func clusterFlags(fs *flag.FlagSet) *clusterRunFlags {
	cf := &clusterRunFlags{nodePIDs: pidFlag{}}
	fs.IntVar(&cf.rooms, "rooms", 0, "spread this many rooms of the scenario through --url (a cluster gateway or node; the lecture then defaults to 4 students per room, and --join-rate is the total over all rooms)")
	fs.BoolVar(&cf.compareDirect, "compare-direct", false, "with --rooms: each room also gets as many subscribers joining its owner node directly, and signal-only join probes run on both paths: the added latency of the proxied signal path")
	fs.IntVar(&cf.probes, "probes", 5, "with --compare-direct: signal-only join probes per room and path")
	fs.Var(&cf.nodePIDs, "node-pid", "with --rooms: sample a local process as LABEL=PID, repeatable (a node id for one node per process, or e.g. dev=PID for atrium dev --sfu-nodes, which runs every node in one process)")
	return cf
}

// runBenchCluster is `atrium bench --rooms K`.
func runBenchCluster(ctx context.Context, rf *runFlags, cf *clusterRunFlags, opts bench.Options) error {
	if cf.rooms <= 0 {
		return errors.New("--compare-direct and --node-pid need --rooms K")
	}
	if rf.serverPID > 0 {
		return errors.New("with --rooms, name processes with --node-pid LABEL=PID rather than --server-pid")
	}
	co := bench.ClusterOptions{Run: opts, Rooms: cf.rooms, CompareDirect: cf.compareDirect, Probes: cf.probes,
		ProcessPIDs: cf.nodePIDs}
	co.Run.Progress = nil
	if !rf.quiet {
		co.Progress = os.Stderr
	}
	stopProfile, err := startCPUProfile(rf.cpuProfile)
	if err != nil {
		return err
	}
	res, runErr := bench.RunCluster(ctx, co)
	if err := stopProfile(); err != nil {
		return errors.Join(runErr, err)
	}
	if res == nil {
		return runErr
	}
	out := os.Stdout
	if rf.json == "-" {
		out = os.Stderr
	}
	if err := res.WriteTable(out); err != nil {
		return errors.Join(runErr, err)
	}
	if rf.json != "" {
		if err := bench.WriteJSONFile(rf.json, res); err != nil {
			return errors.Join(runErr, err)
		}
	}
	return runErr
}

// pidFlag is a repeatable LABEL=PID flag.
type pidFlag map[string]int

func (f pidFlag) String() string {
	var parts []string
	for l, p := range f {
		parts = append(parts, fmt.Sprintf("%s=%d", l, p))
	}
	return strings.Join(parts, ",")
}

func (f pidFlag) Set(s string) error {
	label, pid, ok := strings.Cut(s, "=")
	if !ok || label == "" {
		return fmt.Errorf("%q: want LABEL=PID", s)
	}
	n, err := strconv.Atoi(pid)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q: PID must be a positive number", s)
	}
	if _, dup := f[label]; dup {
		return fmt.Errorf("%q: label %s given twice", s, label)
	}
	f[label] = n
	return nil
}
