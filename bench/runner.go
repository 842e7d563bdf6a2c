package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	protoLogger "github.com/livekit/protocol/logger"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/bench/leansub"
	"github.com/atrium-live/atrium/bench/procstat"
)

// Target is the server under test.
type Target struct {
	URL       string // ws://, wss://, http:// or https:// base URL of a LiveKit-compatible server
	APIKey    string
	APISecret string
}

// Validate checks that t can be dialled at all.
func (t Target) Validate() error {
	u, err := url.Parse(t.URL)
	if err != nil {
		return fmt.Errorf("bench: url %q: %w", t.URL, err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("bench: url %q: scheme must be ws, wss, http or https", t.URL)
	}
	if u.Host == "" {
		return fmt.Errorf("bench: url %q has no host", t.URL)
	}
	if t.APIKey == "" || t.APISecret == "" {
		return errors.New("bench: api key and secret are required")
	}
	return nil
}

// Options configure one run.
type Options struct {
	Scenario  Scenario
	Target    Target
	ServerPID int // > 0: sample this process's CPU and RSS from /proc

	// Feedback is the RTCP subscribers send ("": FeedbackBrowser).
	Feedback Feedback
	// Lean makes subscribe-only participants lean clients (bench/leansub): real signalling,
	// ICE, DTLS and SRTP without a PeerConnection, no RTCP (Feedback must be none or
	// unset). A tester core then receives for several hundred subscribers.
	Lean bool
	// RelayOnly makes participants connect with ICE transport policy relay (see RelayMode).
	RelayOnly RelayMode
	// TURNPID > 0: sample the TURN relay process's CPU and RSS, for relayed packets per
	// relay CPU-second. Needs RelayOnly.
	TURNPID int
	// TURNMetricsURL is the relay's Prometheus /metrics (http://host:9478/metrics): relayed
	// packets are then read from RelayedPacketsMetric instead of estimated. Needs RelayOnly.
	TURNMetricsURL string

	Progress         io.Writer     // live progress lines; nil: none
	ProgressInterval time.Duration // 0: 1 s
	// Grace bounds teardown (and hung joins) beyond Scenario.Duration; 0: 10 s.
	Grace time.Duration
	// JoinTimeout bounds one join (WebSocket, join response, ICE, publication); 0: 10 s.
	JoinTimeout time.Duration
	Logger      *slog.Logger // nil: discard
	// SDKLogger receives the LiveKit SDK's own logs; nil: discard.
	SDKLogger protoLogger.Logger
	// OwnerURL resolves the node id a server names in its join response (ServerInfo.NodeId)
	// to that node's own signal URL (ws:// or wss://). Required when a group is Direct.
	OwnerURL func(ctx context.Context, nodeID string) (string, error)
	// DirectFirst starts the alternation of direct and target subscribers with a direct
	// one (RunCluster flips it from room to room, so that neither path always joins later).
	DirectFirst bool

	// joinsDone, if set, counts finished joins (either way): RunCluster waits on it.
	joinsDone *atomic.Int64
	// leanOwnSockets gives each lean subscriber a socket of its own even on loopback (the
	// path used against remote servers), for tests.
	leanOwnSockets bool
}

// Errors a run reports; the Result is still returned with them.
var (
	ErrJoinsFailed = errors.New("bench: some joins failed")
	ErrNoMedia     = errors.New("bench: subscribers received no media")
	ErrDropped     = errors.New("bench: participants were disconnected during the run")
	ErrAborted     = errors.New("bench: run aborted")
)

// settle is how long after the last join the steady-state window starts.
const settle = 2 * time.Second

type run struct {
	opts  Options
	scn   *Scenario
	room  string
	log   *slog.Logger
	cnt   counters
	sent  sentStreams
	start time.Time
	// stopped is when the publishers were told to stop: tracks still open then owe the
	// packets sent after the last one they received.
	stopped time.Time

	joinedOK, joinFailed atomic.Int64
	relay                *relayProbe // nil without TURNPID and TURNMetricsURL
	owner                ownerURL    // where Direct groups join

	cert *leansub.Certificate // lean subscribers' DTLS identity (Options.Lean)
	hub  *leansub.Hub         // their shared socket (Options.Lean)

	mu     sync.Mutex
	lean   []*leansub.Subscriber
	rooms  []*lksdk.Room
	tracks []*trackStats
	parts  []*participant

	writers, readers sync.WaitGroup
}

// Run executes opts.Scenario against opts.Target and returns what it measured. It returns
// within Scenario.Duration plus Grace whatever the server does. The Result is non-nil
// whenever a run took place, also together with ErrJoinsFailed or ErrNoMedia; a failed
// first publisher aborts the run early with ErrAborted, an error that says why, and no Result.
func Run(ctx context.Context, opts Options) (*Result, error) {
	var err error
	if err = opts.Scenario.Validate(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if err = opts.Target.Validate(); err != nil {
		return nil, err
	}
	if err = validateRelayOptions(opts); err != nil {
		return nil, err
	}
	if opts.Scenario.hasDirect() && opts.OwnerURL == nil {
		return nil, errors.New("bench: a direct group needs Options.OwnerURL to find the room's owner node")
	}
	if opts.Lean && opts.Feedback != "" && opts.Feedback != FeedbackNone {
		return nil, fmt.Errorf("bench: lean subscribers send no RTCP: feedback %q is not possible", opts.Feedback)
	}
	if opts.Lean {
		opts.Feedback = FeedbackNone
	}
	if opts.Feedback, err = ParseFeedback(string(opts.Feedback)); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if opts.Grace <= 0 {
		opts.Grace = 10 * time.Second
	}
	if opts.JoinTimeout <= 0 {
		opts.JoinTimeout = 10 * time.Second
	}
	if opts.ProgressInterval <= 0 {
		opts.ProgressInterval = time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.SDKLogger == nil {
		opts.SDKLogger = protoLogger.GetDiscardLogger()
	}
	r := &run{opts: opts, scn: &opts.Scenario, log: opts.Logger, room: opts.Scenario.Room,
		owner: ownerURL{ready: make(chan struct{})}}
	if opts.Lean {
		if r.cert, err = leansub.NewCertificate(); err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		// One shared socket for all (used when the server is on loopback).
		if !opts.leanOwnSockets {
			if r.hub, err = leansub.NewHub(); err != nil {
				return nil, fmt.Errorf("bench: %w", err)
			}
			defer r.hub.Close()
		}
	}
	if r.room == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		r.room = "bench-" + hex.EncodeToString(b[:])
	}
	return r.execute(ctx)
}

func (r *run) execute(ctx context.Context) (*Result, error) {
	hardCtx, hardCancel := context.WithTimeout(ctx, r.scn.Duration+r.opts.Grace)
	defer hardCancel()
	mediaCtx, stopMedia := context.WithCancel(hardCtx)
	defer stopMedia()

	var server *procstat.Sampler
	if r.opts.ServerPID > 0 {
		var err error
		if server, err = procstat.Start(hardCtx, r.opts.ServerPID, 250*time.Millisecond); err != nil {
			return nil, fmt.Errorf("bench: --server-pid %d: %w", r.opts.ServerPID, err)
		}
	}
	self, err := procstat.Start(hardCtx, os.Getpid(), 250*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("bench: sampling the tester itself: %w", err)
	}
	if r.relay, err = startRelayProbe(hardCtx, r.opts); err != nil {
		if server != nil {
			_, _ = server.Stop()
		}
		_, _ = self.Stop()
		return nil, err
	}
	defer r.relay.stop()

	r.parts = r.participants()
	r.start = time.Now()
	end := r.start.Add(r.scn.Duration)
	abort := make(chan error, 1)
	joinsDone := make(chan struct{})
	go r.schedule(hardCtx, mediaCtx, end, abort, joinsDone)

	stopProgress := r.progress(server, self)
	var steady *snapshot
	settleTimer := time.NewTimer(time.Hour)
	endTimer := time.NewTimer(time.Until(end))
	var interrupted, rampEnded bool
	var abortErr error
wait:
	for {
		select {
		case <-joinsDone:
			joinsDone = nil
			rampEnded = true
			settleTimer.Reset(settle)
		case <-settleTimer.C:
			steady = r.snapshot(server, self)
			steady.relay = r.relay.snapshot(hardCtx)
		case <-endTimer.C:
			break wait
		case err := <-abort:
			abortErr = err
			break wait
		case <-ctx.Done():
			interrupted = true
			break wait
		}
	}
	settleTimer.Stop()
	endTimer.Stop()

	// Stop the publishers, let packets in flight arrive, then read the figures before
	// anyone leaves (leaving would look like loss).
	r.stopped = time.Now()
	stopMedia()
	waitBounded(&r.writers, time.Second)
	if abortErr == nil {
		r.drain(hardCtx)
	}
	final := r.snapshot(server, self)
	final.relay = r.relay.snapshot(hardCtx)
	stopProgress()
	r.teardown(hardCtx)
	if server != nil {
		_, _ = server.Stop()
	}
	_, _ = self.Stop()

	res := r.result(steady, final, rampEnded)
	if interrupted {
		res.Warnings = append(res.Warnings, "interrupted before the end of the run")
	}
	switch {
	case abortErr != nil:
		return nil, fmt.Errorf("%w: %w", ErrAborted, abortErr)
	case res.Joins.Failed > 0:
		return res, fmt.Errorf("%w: %d of %d failed, first error: %s", ErrJoinsFailed,
			res.Joins.Failed, res.Participants, res.Joins.Errors[0])
	case res.Joins.Dropped > 0:
		return res, fmt.Errorf("%w: %d of %d (%s)", ErrDropped, res.Joins.Dropped, res.Joins.OK, res.Joins.DropReason)
	case res.Audio.ReceivedPackets+res.Video.ReceivedPackets == 0:
		return res, ErrNoMedia
	}
	return res, nil
}

// participants lists everyone in join order: publishing groups first, so subscribers find
// tracks to subscribe to when they arrive.
func (r *run) participants() []*participant {
	var pubs, subs []*participant
	for gi := range r.scn.Groups {
		g := &r.scn.Groups[gi]
		for i := 0; i < g.Count; i++ {
			p := &participant{identity: fmt.Sprintf("%s-%d", g.Name, i), group: g}
			p.relayOnly = r.opts.RelayOnly.applies(p)
			if p.publishes() {
				pubs = append(pubs, p)
			} else {
				subs = append(subs, p)
			}
		}
	}
	all := append(pubs, interleaveDirect(subs, r.opts.DirectFirst)...)
	for i, p := range all {
		p.order = i
	}
	return all
}

// schedule starts one join every 1/JoinRate seconds until everyone has been started or
// end passes, and closes done when every started join has finished. A failed publisher
// join before any publisher succeeded is sent on abort: nothing could be measured.
func (r *run) schedule(hardCtx, mediaCtx context.Context, end time.Time, abort chan<- error, done chan<- struct{}) {
	var wg sync.WaitGroup
	defer func() {
		wg.Wait()
		close(done)
	}()
	interval := time.Duration(float64(time.Second) / r.scn.JoinRate)
	var pubOK atomic.Bool
	for i, p := range r.parts {
		at := r.start.Add(time.Duration(i) * interval)
		if at.After(end) {
			return
		}
		if !sleepCtx(mediaCtx, time.Until(at)) {
			return
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.join(hardCtx, mediaCtx, p)
			switch {
			case err == nil && p.publishes():
				pubOK.Store(true)
			case err != nil && p.publishes() && !pubOK.Load():
				select {
				case abort <- fmt.Errorf("publisher %s could not join %s: %w", p.identity, r.opts.Target.URL, err):
				default:
				}
			}
		}()
	}
}

// join connects one participant, publishes its tracks and hooks its subscriptions.
func (r *run) join(hardCtx, mediaCtx context.Context, p *participant) (err error) {
	defer func() {
		if err != nil {
			p.finish(time.Time{}, err)
			r.joinFailed.Add(1)
			r.log.Debug("join failed", "identity", p.identity, "err", err)
		}
		if r.opts.joinsDone != nil {
			r.opts.joinsDone.Add(1)
		}
	}()
	token, err := r.token(p)
	if err != nil {
		return err
	}
	if r.opts.Lean && !p.publishes() && !p.relayOnly && !p.group.Direct {
		return r.joinLean(hardCtx, p, token)
	}
	cb := lksdk.NewRoomCallback()
	cb.OnTrackSubscribed = func(track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication, _ *lksdk.RemoteParticipant) {
		r.onTrack(p, track, pub)
	}
	cb.OnDisconnectedWithReason = func(reason lksdk.DisconnectionReason) {
		p.drop(time.Now(), string(reason))
	}
	room := lksdk.NewRoom(cb)
	jctx, cancel := context.WithTimeout(hardCtx, r.opts.JoinTimeout)
	defer cancel()
	url := r.opts.Target.URL
	if p.group.Direct {
		if url, err = r.owner.wait(jctx); err != nil {
			return fmt.Errorf("direct join: %w", err)
		}
	}
	p.started(time.Now())
	connOpts := []lksdk.ConnectOption{lksdk.WithAutoSubscribe(p.group.Subscribe),
		lksdk.WithConnectTimeout(r.opts.JoinTimeout),
		lksdk.WithDisableRegionDiscovery(),
		lksdk.WithLogger(r.opts.SDKLogger)}
	if p.relayOnly {
		connOpts = append(connOpts, lksdk.WithICETransportPolicy(webrtc.ICETransportPolicyRelay))
	}
	fbOpts, err := r.opts.Feedback.connectOptions(p.publishes())
	if err != nil {
		return err
	}
	connOpts = append(connOpts, fbOpts...)
	err = room.JoinWithContextAndToken(jctx, url, token, connOpts...)
	if err != nil {
		room.Disconnect()
		return fmt.Errorf("join: %w", err)
	}
	joined := time.Now()
	node := room.ServerInfo().GetNodeId()
	p.setNode(node)
	if !p.group.Direct && r.opts.OwnerURL != nil {
		r.owner.resolve(hardCtx, node, r.opts.OwnerURL)
	}
	r.mu.Lock()
	r.rooms = append(r.rooms, room)
	r.mu.Unlock()
	if p.publishes() {
		if err := publishMedia(mediaCtx, room, p.identity, *p.group, r.scn, &r.cnt, &r.sent, &r.writers); err != nil {
			return err
		}
	}
	p.finish(joined, nil)
	r.joinedOK.Add(1)
	return nil
}

func (r *run) token(p *participant) (string, error) {
	pub, sub := p.publishes(), p.group.Subscribe
	at := auth.NewAccessToken(r.opts.Target.APIKey, r.opts.Target.APISecret).
		SetIdentity(p.identity).
		SetName(p.identity).
		SetValidFor(r.scn.Duration + r.opts.Grace + time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: r.room, CanPublish: &pub, CanSubscribe: &sub})
	t, err := at.ToJWT()
	if err != nil {
		return "", fmt.Errorf("bench: token: %w", err)
	}
	return t, nil
}

func (r *run) onTrack(p *participant, track *webrtc.TrackRemote, pub *lksdk.RemoteTrackPublication) {
	ts := &trackStats{kind: kindAudio, sid: pub.SID(), owner: p}
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		ts.kind = kindVideo
		switch p.group.SubscribeQuality {
		case "low":
			_ = pub.SetVideoQuality(livekit.VideoQuality_LOW)
		case "medium":
			_ = pub.SetVideoQuality(livekit.VideoQuality_MEDIUM)
		}
	}
	r.mu.Lock()
	r.tracks = append(r.tracks, ts)
	r.mu.Unlock()
	r.readers.Add(1)
	go func() {
		defer r.readers.Done()
		readTrack(track, ts, &r.cnt)
	}()
}

// drain waits, after the publishers stopped, until packets stop arriving (queues in the
// server empty): 200 ms without a packet, at most 3 s.
func (r *run) drain(ctx context.Context) {
	received := func() uint64 { return r.cnt.recvPkts[kindAudio].Load() + r.cnt.recvPkts[kindVideo].Load() }
	prev, quiet := received(), 0
	for deadline := time.Now().Add(3 * time.Second); quiet < 2 && time.Now().Before(deadline); {
		if !sleepCtx(ctx, 100*time.Millisecond) {
			return
		}
		if cur := received(); cur != prev {
			prev, quiet = cur, 0
		} else {
			quiet++
		}
	}
}

// tail is how many packets ts's stream (its current layer) sent after the last one ts
// received, for a track that was still open when the publishers stopped.
func (r *run) tail(ts *trackStats) uint64 {
	ts.mu.Lock()
	layer, highest, ok := ts.loss.Current()
	closed := ts.closedAt
	ts.mu.Unlock()
	// A track that ended before the publishers stopped was unsubscribed, unless the server
	// dropped its subscriber: then what it missed is lost.
	if !ok || (!closed.IsZero() && closed.Before(r.stopped) && !ts.owner.droppedBefore(r.stopped)) {
		return 0
	}
	n, ok := r.sent.get(ts.sid, layer)
	if !ok || n == 0 {
		return 0
	}
	if d := int32(n - 1 - highest); d > 0 {
		return uint64(d)
	}
	return 0
}

// teardown disconnects everyone in parallel, bounded by the hard deadline.
func (r *run) teardown(hardCtx context.Context) {
	r.mu.Lock()
	rooms := r.rooms
	r.rooms = nil
	lean := r.lean
	r.lean = nil
	r.mu.Unlock()
	for _, s := range lean {
		s.Close()
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for _, room := range rooms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			room.Disconnect()
		}()
	}
	left := time.Until(deadlineOf(hardCtx))
	waitBounded(&wg, left)
	waitBounded(&r.readers, min(time.Until(deadlineOf(hardCtx)), 2*time.Second))
}

func deadlineOf(ctx context.Context) time.Time {
	if d, ok := ctx.Deadline(); ok {
		return d
	}
	return time.Now().Add(10 * time.Second)
}

// waitBounded waits for wg at most d.
func waitBounded(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() {
		wg.Wait()
		close(done)
	}()
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// sleepCtx sleeps d unless ctx ends first; it reports whether the full sleep happened.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// joinLean connects p as a lean subscriber (Options.Lean).
func (r *run) joinLean(hardCtx context.Context, p *participant, token string) error {
	jctx, cancel := context.WithTimeout(hardCtx, r.opts.JoinTimeout)
	defer cancel()
	p.started(time.Now())
	var (
		mu   sync.Mutex
		mine []*trackStats
	)
	s, err := leansub.Dial(jctx, leansub.Params{URL: r.opts.Target.URL, Token: token, Cert: r.cert, Hub: r.hub,
		OnTrack: func(t *leansub.Track) {
			ts := &trackStats{kind: kindAudio, sid: t.SID, owner: p}
			if t.Video {
				ts.kind = kindVideo
			}
			t.Data = ts
			mu.Lock()
			mine = append(mine, ts)
			mu.Unlock()
			r.mu.Lock()
			r.tracks = append(r.tracks, ts)
			r.mu.Unlock()
		},
		OnPacket: func(t *leansub.Track, pkt []byte, at time.Time) {
			t.Data.(*trackStats).record(pkt, at, &r.cnt)
		},
		OnClose: func(reason string) {
			if reason != "closed" {
				p.drop(time.Now(), reason)
			}
			mu.Lock()
			for _, ts := range mine {
				ts.close()
			}
			mu.Unlock()
		},
	})
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	p.setNode(s.NodeID)
	r.mu.Lock()
	r.lean = append(r.lean, s)
	r.mu.Unlock()
	p.finish(time.Now(), nil)
	r.joinedOK.Add(1)
	return nil
}
