package bench

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/bench/stats"
	"github.com/atrium-live/atrium/bench/synth"
)

// trackStats is what one subscriber measured on one received track. The reading
// goroutine updates it under mu; the runner reads it under mu.
type trackStats struct {
	kind  int
	sid   string       // the publisher's track SID
	owner *participant // the subscriber
	seen  bool         // a media packet arrived (owned by the reading goroutine)

	mu        sync.Mutex
	loss      stats.Loss
	jitter    stats.Jitter
	latency   stats.Histogram
	unstamped uint64    // media packets without a stamp (not from this tester)
	padding   uint64    // padding-only packets (bandwidth probes)
	closedAt  time.Time // when the track ended (unsubscribed, or the subscriber left)
}

// readTrack reads RTP from track until it fails (the subscriber left), recording each
// stamped packet.
func readTrack(track *webrtc.TrackRemote, ts *trackStats, c *counters) {
	buf := make([]byte, 1500)
	for {
		n, _, err := track.Read(buf)
		if err != nil {
			ts.close()
			return
		}
		ts.record(buf[:n], time.Now(), c)
	}
}

// close records that the track ended.
func (ts *trackStats) close() {
	ts.mu.Lock()
	ts.closedAt = time.Now()
	ts.mu.Unlock()
}

// record accounts one received RTP packet (header included) that arrived at now; the
// first media packet's arrival is the subscriber's first media. Allocates nothing.
func (ts *trackStats) record(pkt []byte, now time.Time, c *counters) {
	if ts.owner.relayOnly {
		c.relayRecvPkts.Add(1)
	}
	payload, ok := synth.RTPPayload(pkt)
	if !ok {
		ts.mu.Lock()
		ts.padding++
		ts.mu.Unlock()
		return
	}
	if !ts.seen {
		ts.seen = true
		ts.owner.firstMedia.CompareAndSwap(0, now.UnixNano())
	}
	c.recvPkts[ts.kind].Add(1)
	c.recvBytes[ts.kind].Add(uint64(len(payload)))
	st, ok := synth.ReadStamp(payload)
	ts.mu.Lock()
	if ok {
		ts.loss.Push(st.Layer, st.Seq)
		ts.jitter.Push(st.Sent, now)
		ts.latency.Record(now.Sub(st.Sent))
	} else {
		ts.unstamped++
	}
	ts.mu.Unlock()
}

// kindTotals aggregates trackStats of one kind.
type kindTotals struct {
	tracks             int
	expected, received uint64
	duplicates         uint64
	tail               uint64 // sent but never delivered at the end
	unstamped, padding uint64
	jitterSum          time.Duration
	latency            stats.Histogram
}

// add adds ts; tail is how many packets its stream sent after the last one ts received,
// for a track still open when the publishers stopped (0 otherwise).
func (k *kindTotals) add(ts *trackStats, tail uint64, withLatency bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	e, r := ts.loss.Totals()
	e += tail
	k.tail += tail
	k.tracks++
	k.expected += e
	k.received += r
	k.duplicates += ts.loss.Duplicates()
	k.unstamped += ts.unstamped
	k.padding += ts.padding
	k.jitterSum += ts.jitter.Value()
	if withLatency {
		k.latency.Merge(&ts.latency)
	}
}

// participant is one virtual participant and its timings.
type participant struct {
	identity string
	group    *Group
	order    int // position in the join order
	// relayOnly: it connects with ICE transport policy relay (Options.RelayOnly).
	relayOnly bool

	firstMedia atomic.Int64 // unix nanos of the first media packet received, 0 before
	// dropped is when the server disconnected the participant (unix nanos), 0 if never.
	dropped    atomic.Int64
	dropReason atomic.Value // string

	mu      sync.Mutex
	node    string    // the node id the join response named
	wsStart time.Time // when the WebSocket dial began
	joined  time.Time // zero until the join (and publication) succeeded
	err     error
	done    bool
}

func (p *participant) setNode(id string) {
	p.mu.Lock()
	p.node = id
	p.mu.Unlock()
}

func (p *participant) nodeID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.node
}

func (p *participant) started(at time.Time) {
	p.mu.Lock()
	p.wsStart = at
	p.mu.Unlock()
}

func (p *participant) finish(joined time.Time, err error) {
	p.mu.Lock()
	p.joined, p.err, p.done = joined, err, true
	p.mu.Unlock()
}

// outcome returns the join timings; done is false while the join is still in progress.
func (p *participant) outcome() (wsStart, joined time.Time, err error, done bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wsStart, p.joined, p.err, p.done
}

// drop records an unrequested disconnection (the first one).
func (p *participant) drop(at time.Time, reason string) {
	if p.dropped.CompareAndSwap(0, at.UnixNano()) {
		p.dropReason.Store(reason)
	}
}

// droppedBefore reports whether the server disconnected p before t.
func (p *participant) droppedBefore(t time.Time) bool {
	d := p.dropped.Load()
	return d != 0 && time.Unix(0, d).Before(t)
}

func (p *participant) publishes() bool { return p.group.PublishAudio || p.group.PublishVideo }
