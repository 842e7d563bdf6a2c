package sfu

import (
	"context"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
	"golang.org/x/time/rate"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/ids"
	"github.com/atrium-live/atrium/pkg/sigconn"
	"github.com/atrium-live/atrium/sfu/internal/media"
	"github.com/atrium-live/atrium/sfu/internal/webhook"
)

// signalQueueLen bounds responses waiting for a slow client; overflowing closes it.
const signalQueueLen = 4096

// participant is one connected client: its signal connection and its two PeerConnections
// (publisher: the client offers; subscriber: the server offers). Its behaviour is split by
// role across participant.go (lifecycle, signal dispatch), publisher.go, subscriber.go and
// data.go.
//
// Goroutines: the handler goroutine of the current signal connection runs the read loop and
// then the cleanup (resume.go: a resumed connection's handler takes that over); one writer
// goroutine owns the WebSocket writes; pion runs the PeerConnection callbacks.
//
// Locks, outermost first: sendMu, room.mu, mu (of any participant), connMu. None is held
// across a pion call or a network write.
type participant struct {
	s        *Server
	room     *room
	log      *slog.Logger
	sid      string
	identity string
	grants   *auth.ClaimGrants
	join     access.JoinParams
	accepted time.Time // WebSocket accepted, for join latency

	connMu   sync.Mutex
	conn     *sigconn.Conn // current signal connection (a resume replaces it); guarded by connMu
	swapped  chan struct{} // closed when conn is replaced; guarded by connMu
	noResume bool          // gave up waiting for a resume; guarded by connMu

	joinedAt time.Time

	ctx     context.Context // cancelled when the participant closes
	cancel  context.CancelFunc
	out     chan *livekit.SignalResponse
	queued  atomic.Int64   // bytes of responses in out (limits.go bounds it)
	slow    atomic.Bool    // disconnected for not reading; counted once
	sendMu  sync.Mutex     // orders the JoinResponse before everything else
	started bool           // JoinResponse queued; guarded by sendMu
	wg      sync.WaitGroup // writer and ping goroutines
	done    chan struct{}  // closed after cleanup
	once    sync.Once

	pub    *pcSide
	sub    *pcSide     // nil on the single-PC path
	subNeg *negotiator // nil on the single-PC path
	// single drives the one PeerConnection of a /rtc/v1 session (session_v1.go); nil on
	// /rtc, where pub and sub are the two PeerConnections.
	single   *singlePC
	dcMu     sync.Mutex
	subDC    map[string]*webrtc.DataChannel // label -> server-created channel on the subscriber PC
	lastSeen atomicTime
	// alloc chooses simulcast layers within the subscriber PC's estimated bandwidth.
	alloc *media.Allocator
	// streamMu serialises stream state updates (streamstate.go) so they reach the client
	// in the order they were decided; taken before sendMu and mu.
	streamMu sync.Mutex

	mu            sync.Mutex
	name          string
	metadata      string
	attributes    map[string]string // from the token, then UpdateParticipant
	version       uint32
	state         livekit.ParticipantInfo_State
	closing       bool
	closeReason   livekit.DisconnectReason
	pending       map[string]*livekit.TrackInfo // cid -> announced, no media yet
	tracks        map[string]*publishedTrack    // sid -> published
	subs          map[string]*subscription      // track sid -> subscribed
	explicit      map[string]bool               // track sid -> explicit subscribe/unsubscribe
	trackSettings map[string]*livekit.UpdateTrackSettings
	connectedOnce bool
	updates       *rate.Limiter // name/metadata/attribute changes (limits.go); made on first use
}

type participantParams struct {
	server   *Server
	room     *room
	grants   *auth.ClaimGrants
	join     access.JoinParams
	conn     *sigconn.Conn
	accepted time.Time
	v1       *livekit.JoinRequest // the /rtc/v1 join request; nil on /rtc
}

func newParticipant(pp participantParams) (*participant, error) {
	s := pp.server
	p := &participant{
		s: s, room: pp.room, sid: ids.NewParticipantID(), identity: pp.grants.Identity,
		grants: pp.grants, join: pp.join, conn: pp.conn, swapped: make(chan struct{}), accepted: pp.accepted, joinedAt: s.now(),
		out: make(chan *livekit.SignalResponse, signalQueueLen), done: make(chan struct{}),
		name: pp.grants.Name, metadata: pp.grants.Metadata, attributes: maps.Clone(pp.grants.Attributes),
		state: livekit.ParticipantInfo_JOINING,
		subDC: make(map[string]*webrtc.DataChannel), pending: make(map[string]*livekit.TrackInfo),
		tracks: make(map[string]*publishedTrack), subs: make(map[string]*subscription),
		explicit: make(map[string]bool), trackSettings: make(map[string]*livekit.UpdateTrackSettings),
	}
	p.log = pp.room.log.With("participant", p.identity, "participant_sid", p.sid)
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.lastSeen.Store(s.now())
	pp.conn.OnPong(p.onPong)
	p.alloc = media.NewAllocator(media.AllocatorParams{SubscriberID: p.sid, Logger: p.log})
	setup := p.setupPeerConnections
	if pp.v1 != nil {
		setup = func() error { return p.setupSinglePC(pp.v1) }
	}
	if err := setup(); err != nil {
		p.cancel()
		return nil, err
	}
	return p, nil
}

func (p *participant) hidden() bool { return p.grants.Video != nil && p.grants.Video.Hidden }

// recorder reports a recording client (the recorder grant): the room is recorded while one is in it.
func (p *participant) recorder() bool { return p.grants.Video != nil && p.grants.Video.Recorder }
func (p *participant) canSubscribe() bool {
	return p.grants.Video != nil && p.grants.Video.GetCanSubscribe()
}
func (p *participant) canPublishData() bool {
	return p.grants.Video != nil && p.grants.Video.GetCanPublishData()
}

func (p *participant) isPublisher() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tracks) > 0
}

// info snapshots the ParticipantInfo others see.
func (p *participant) info() *livekit.ParticipantInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.infoLocked()
}

func (p *participant) infoLocked() *livekit.ParticipantInfo {
	tracks := make([]*livekit.TrackInfo, 0, len(p.tracks))
	for _, t := range p.tracks {
		tracks = append(tracks, t.infoClone())
	}
	var perm *livekit.ParticipantPermission
	if p.grants.Video != nil {
		perm = p.grants.Video.ToPermission()
	}
	return &livekit.ParticipantInfo{
		Sid: p.sid, Identity: p.identity, State: p.state, Tracks: tracks,
		Metadata: p.metadata, Name: p.name, Version: p.version, Permission: perm,
		JoinedAt: p.joinedAt.Unix(), JoinedAtMs: p.joinedAt.UnixMilli(),
		Region: p.s.cfg.Region, IsPublisher: len(tracks) > 0,
		Kind: p.grants.GetParticipantKind(), Attributes: maps.Clone(p.attributes),
		DisconnectReason: p.closeReason, ClientProtocol: int32(p.join.Protocol),
	}
}

// changed bumps the version and tells the room; call after mutating what info reports.
func (p *participant) changed() {
	p.mu.Lock()
	p.version++
	info := p.infoLocked()
	p.mu.Unlock()
	p.room.broadcastParticipant(p, info)
}

// send queues a response for the writer. It never blocks: a client too slow to keep up
// with signalQueueLen responses is disconnected.
//
// Until start has queued the JoinResponse, everything else is dropped: the JoinResponse must
// be the first message, and it is built from the state those messages would have updated.
func (p *participant) send(m *livekit.SignalResponse) {
	p.sendMu.Lock()
	defer p.sendMu.Unlock()
	if !p.started || p.ctx.Err() != nil {
		return
	}
	p.enqueue(m)
}

func (p *participant) enqueue(m *livekit.SignalResponse) {
	n := int64(proto.Size(m))
	if p.queued.Add(n) > p.s.limits().SignalQueueBytes && len(p.out) > 0 {
		// Over the byte bound with something still waiting: the client is not keeping up.
		// (A single message larger than the bound still goes out to a reader that is.)
		p.queued.Add(-n)
		p.slowClient("signal queue over its byte limit")
		return
	}
	select {
	case p.out <- m:
	default:
		p.queued.Add(-n)
		p.slowClient("signal queue full")
	}
}

// slowClient disconnects a participant that does not read its signal socket, once.
func (p *participant) slowClient(why string) {
	if p.slow.Swap(true) {
		return
	}
	p.s.metrics.slowClients.Inc()
	p.log.Warn("disconnecting slow client", "reason", why)
	go p.close(closeParams{reason: livekit.DisconnectReason_SIGNAL_CLOSE})
}

// start sends the JoinResponse and announces p.
func (p *participant) start() {
	cfg := p.s.cfg
	p.sendMu.Lock()
	// Others are read under sendMu: whoever changes after this snapshot reaches p through
	// send, which now accepts messages.
	others := p.room.others(p)
	otherInfos := make([]*livekit.ParticipantInfo, 0, len(others))
	for _, o := range others {
		if !o.hidden() && o.identity != p.identity {
			otherInfos = append(otherInfos, o.info())
		}
	}
	// Participants on the room's other nodes (a room spanning nodes).
	otherInfos = append(otherInfos, p.room.span.remoteInfos(p.identity)...)
	p.mu.Lock()
	if p.state == livekit.ParticipantInfo_JOINING {
		p.state = livekit.ParticipantInfo_JOINED
	}
	p.version++
	self := p.infoLocked()
	p.mu.Unlock()
	p.started = true
	p.enqueue(&livekit.SignalResponse{Message: &livekit.SignalResponse_Join{Join: &livekit.JoinResponse{
		Room: p.room.info(), Participant: self, OtherParticipants: otherInfos,
		ServerVersion:     LiveKitVersion,
		IceServers:        iceServers(cfg.TURN, p.identity, p.s.now()),
		SubscriberPrimary: p.canSubscribe() && p.single == nil,
		ServerRegion:      cfg.Region,
		PingTimeout:       int32(cfg.Signal.PingTimeout / time.Second),
		PingInterval:      int32(cfg.Signal.PingInterval / time.Second),
		ServerInfo: &livekit.ServerInfo{
			Edition: livekit.ServerInfo_Standard, Version: LiveKitVersion, Protocol: p.serverProtocol(),
			Region: cfg.Region, NodeId: cfg.NodeID, DebugInfo: "atrium " + atriumVersion(),
		},
		EnabledPublishCodecs: enabledCodecs(p.room.opts.codecs),
	}}})
	p.sendMu.Unlock()
	p.wg.Add(3)
	go p.writeLoop()
	go p.pingWatch()
	go p.refreshTokens()

	p.s.metrics.participants.Inc()
	p.room.broadcastParticipant(p, self)
	p.room.countsChanged()
	p.room.notify(webhook.ParticipantJoined, &livekit.WebhookEvent{Room: p.room.info(), Participant: self})

	// The subscriber PC carries the server's data channels, so it is offered at once, as
	// LiveKit does when the subscriber is primary; existing tracks come with it.
	for _, o := range others {
		for _, t := range o.publishedTracks() {
			p.offerTrack(t)
		}
	}
	for _, t := range p.room.span.remoteTracks() {
		p.offerTrack(t)
	}
	if p.single != nil {
		p.single.start()
		return
	}
	p.subNeg.start()
}

// readLoop handles requests from c until it fails (the error is returned) or p closes (nil).
func (p *participant) readLoop(c *sigconn.Conn) error {
	for {
		req, err := c.Read()
		if err != nil {
			if p.ctx.Err() != nil {
				return nil
			}
			return err
		}
		p.lastSeen.Store(p.s.now())
		if err := p.handle(req); err != nil {
			p.log.Warn("signal request failed", "err", err)
		}
		if p.ctx.Err() != nil {
			return nil
		}
	}
}

// writeLoop writes queued responses to the current signal connection. A failed write closes
// that connection (so its reader notices) and drops the message: after a resume, state is
// re-sent rather than replayed.
func (p *participant) writeLoop() {
	defer p.wg.Done()
	for {
		select {
		case m := <-p.out:
			// Counted out on dequeue: the bound is on what waits, not on the one in flight.
			p.queued.Add(-int64(proto.Size(m)))
			c := p.signal()
			if err := c.Write(m); err != nil {
				p.log.Info("signal write failed", "err", err)
				c.Close(websocket.CloseGoingAway, "write failed")
			}
		case <-p.ctx.Done():
			// Flush what was queued before closing (a LeaveRequest, typically).
			c := p.signal()
			for {
				select {
				case m := <-p.out:
					if c.Write(m) != nil {
						c.Close(websocket.CloseGoingAway, "write failed")
						return
					}
				default:
					c.Close(websocket.CloseNormalClosure, "")
					return
				}
			}
		}
	}
}

// pingWatch sends WebSocket pings every PingInterval and disconnects a client from which
// nothing (request, LiveKit ping or WebSocket pong) arrived for PingTimeout.
func (p *participant) pingWatch() {
	defer p.wg.Done()
	t := time.NewTicker(p.s.cfg.Signal.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			_ = p.signal().Ping()
			if p.s.now().Sub(p.lastSeen.Load()) > p.s.cfg.Signal.PingTimeout {
				p.log.Info("ping timeout")
				p.close(closeParams{reason: livekit.DisconnectReason_CONNECTION_TIMEOUT})
				return
			}
		}
	}
}

// closeParams say why a participant closes and whether to tell it.
type closeParams struct {
	reason    livekit.DisconnectReason
	sendLeave bool
	action    livekit.LeaveRequest_Action
}

// close starts closing p: it optionally queues a LeaveRequest, then stops the writer (which
// flushes and closes the socket, ending the read loop). Cleanup runs on the handler
// goroutine afterwards. Safe to call more than once and from any goroutine.
func (p *participant) close(c closeParams) {
	p.once.Do(func() {
		p.mu.Lock()
		p.closing = true
		p.closeReason = c.reason
		p.mu.Unlock()
		if c.sendLeave {
			p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Leave{Leave: &livekit.LeaveRequest{
				Reason: c.reason, Action: c.action, CanReconnect: c.action != livekit.LeaveRequest_DISCONNECT,
			}}})
		}
		p.log.Info("participant closing", "reason", c.reason.String())
		p.cancel()
	})
}

// wait blocks until cleanup finished, or 10 s passed.
func (p *participant) wait() {
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.log.Warn("participant cleanup slow")
	}
}

// cleanup releases everything p holds and tells the room. Called once, after readLoop.
func (p *participant) cleanup(started bool) {
	defer close(p.done)
	p.close(closeParams{reason: livekit.DisconnectReason_CLIENT_INITIATED})
	if p.single != nil {
		p.single.close()
	} else {
		p.subNeg.close()
	}
	if started {
		// The writer flushes what is queued (a LeaveRequest) and closes the socket itself.
		p.wg.Wait()
		p.signal().Close(websocket.CloseNormalClosure, "")
		p.room.leave(p)
	}

	p.mu.Lock()
	tracks := make([]*publishedTrack, 0, len(p.tracks))
	for _, t := range p.tracks {
		tracks = append(tracks, t)
	}
	p.tracks = map[string]*publishedTrack{}
	subs := p.subs
	p.subs = map[string]*subscription{}
	p.state = livekit.ParticipantInfo_DISCONNECTED
	p.version++
	final := p.infoLocked()
	p.mu.Unlock()

	for _, t := range tracks {
		p.retireTrack(t)
	}
	for _, sub := range subs {
		if sub.dt != nil {
			p.alloc.Remove(sub.dt)
		}
		sub.release()
		sub.track.subscribersChanged()
	}
	p.pub.pc.Close()
	if p.sub != nil {
		p.sub.pc.Close()
	}
	p.wg.Wait()

	if started {
		p.s.metrics.participants.Dec()
		p.room.broadcastParticipant(p, final)
		p.room.countsChanged()
		p.room.notify(webhook.ParticipantLeft, &livekit.WebhookEvent{Room: p.room.info(), Participant: final})
	}
	p.log.Info("participant left")
}

// handle dispatches one request.
func (p *participant) handle(req *livekit.SignalRequest) error {
	switch m := req.Message.(type) {
	case *livekit.SignalRequest_Offer:
		if p.single != nil {
			return p.single.handleOffer(m.Offer)
		}
		return p.handlePublisherOffer(m.Offer)
	case *livekit.SignalRequest_Answer:
		return p.handleSubscriberAnswer(m.Answer)
	case *livekit.SignalRequest_Trickle:
		return p.handleTrickle(m.Trickle)
	case *livekit.SignalRequest_AddTrack:
		p.handleAddTrack(m.AddTrack)
	case *livekit.SignalRequest_Mute:
		p.handleMute(m.Mute)
	case *livekit.SignalRequest_Subscription:
		p.handleSubscription(m.Subscription)
	case *livekit.SignalRequest_TrackSetting:
		p.handleTrackSettings(m.TrackSetting)
	case *livekit.SignalRequest_Leave:
		p.close(closeParams{reason: livekit.DisconnectReason_CLIENT_INITIATED})
	case *livekit.SignalRequest_Ping:
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Pong{Pong: p.s.now().UnixMilli()}})
	case *livekit.SignalRequest_PingReq:
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_PongResp{PongResp: &livekit.Pong{
			LastPingTimestamp: m.PingReq.Timestamp, Timestamp: p.s.now().UnixMilli(),
		}}})
	case *livekit.SignalRequest_UpdateMetadata:
		p.handleUpdateMetadata(m.UpdateMetadata)
	case nil:
		// A message type this server does not know (newer SDK): ignored for compatibility.
		p.s.metrics.signalErrors.WithLabelValues("unknown_type").Inc()
		p.log.Debug("ignoring unknown signal request")
	default:
		// Known but unsupported here (layers, permissions, sync state, simulate, ...).
		p.log.Debug("ignoring unsupported signal request", "type", proto.MessageName(req).Name())
	}
	return nil
}

func (p *participant) handleUpdateMetadata(m *livekit.UpdateParticipantMetadata) {
	if p.grants.Video == nil || !p.grants.Video.GetCanUpdateOwnMetadata() {
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: &livekit.RequestResponse{
			RequestId: m.RequestId, Reason: livekit.RequestResponse_NOT_ALLOWED, Message: "canUpdateOwnMetadata not granted",
		}}})
		return
	}
	if err := p.applyUpdate(m.Name, m.Metadata, m.Attributes); err != nil {
		p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_RequestResponse{RequestResponse: &livekit.RequestResponse{
			RequestId: m.RequestId, Reason: livekit.RequestResponse_LIMIT_EXCEEDED, Message: err.Error(),
		}}})
		return
	}
	p.changed()
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{
		Participants: []*livekit.ParticipantInfo{p.info()},
	}}})
}

// onPrimaryConnected marks p active once its first PeerConnection connects.
func (p *participant) onConnected() {
	p.mu.Lock()
	if p.connectedOnce || p.closing {
		p.mu.Unlock()
		return
	}
	p.connectedOnce = true
	p.state = livekit.ParticipantInfo_ACTIVE
	p.mu.Unlock()
	p.s.metrics.joinLatency.Observe(time.Since(p.accepted).Seconds())
	p.changed()
}
