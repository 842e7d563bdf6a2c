package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/ids"
	"github.com/atrium-live/atrium/sfu/internal/webhook"
)

// Errors a join can fail with.
var (
	ErrRoomFull   = errors.New("sfu: room is full")
	ErrRoomClosed = errors.New("sfu: room is closing")
	ErrDraining   = errors.New("sfu: node is draining")
	errNotFound   = errors.New("sfu: not found")
)

// roomDeps are what rooms need from their node, kept narrow so a room depends on no Server:
// the node side (placement, leases, webhooks, metrics) can change without touching rooms,
// as rooms spanning nodes will need.
type roomDeps struct {
	log *slog.Logger
	now func() time.Time
	// signal holds the speaker and connection-quality intervals.
	signal SignalConfig
	// notify sends a webhook (a no-op without webhook URLs).
	notify func(event string, ev *livekit.WebhookEvent)
	// draining reports whether the node refuses new rooms.
	draining func() bool
	// release gives up the node's lease on a room (closed or moved).
	release func(room string)
	// roomsGauge counts open rooms.
	roomsGauge interface {
		Inc()
		Dec()
	}
	// relay links rooms spanning nodes; nil when relaying is off.
	relay *relayService
}

// roomManager owns the node's rooms: created on first join, closed after EmptyTimeout.
type roomManager struct {
	deps  roomDeps
	mu    sync.Mutex
	rooms map[string]*room
}

func newRoomManager(deps roomDeps) *roomManager {
	return &roomManager{deps: deps, rooms: make(map[string]*room)}
}

// getOrCreate returns the open room called name, creating it with opts unless the node
// drains (opts are ignored for a room already open).
func (m *roomManager) getOrCreate(name string, opts roomOptions) (*room, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.rooms[name]; ok {
		return r, nil
	}
	if m.deps.draining() {
		// A placer may have leased the room to this node just before the drain began:
		// give the lease back so the client's retry places the room elsewhere.
		go m.deps.release(name)
		return nil, ErrDraining
	}
	r := newRoom(m, name, opts, "")
	m.rooms[name] = r
	m.deps.roomsGauge.Inc()
	m.deps.notify(webhook.RoomStarted, &livekit.WebhookEvent{Room: r.info()})
	return r, nil
}

// getOrCreateRelay returns the room called name relayed from origin, creating it and
// attaching it to the origin (which sends the room's state) if needed.
func (m *roomManager) getOrCreateRelay(name string, opts roomOptions, origin string) (*room, error) {
	if m.deps.relay == nil {
		return nil, errors.New("sfu: relaying is off on this node")
	}
	m.mu.Lock()
	r, ok := m.rooms[name]
	created := false
	if !ok {
		if m.deps.draining() {
			m.mu.Unlock()
			return nil, ErrDraining
		}
		r = newRoom(m, name, opts, origin)
		m.rooms[name] = r
		m.deps.roomsGauge.Inc()
		created = true
	}
	m.mu.Unlock()
	if r.span.origin != origin {
		return nil, fmt.Errorf("sfu: room %s here is relayed from %q, not %q", name, r.span.origin, origin)
	}
	if created {
		if err := r.span.attachAndWait(5 * time.Second); err != nil {
			r.span.setReady(err)
			go r.move()
			return nil, err
		}
		return r, nil
	}
	select {
	case <-r.span.ready:
		if r.span.readyErr != nil {
			return nil, r.span.readyErr
		}
	case <-time.After(5 * time.Second):
		return nil, errors.New("sfu: relayed room not ready")
	}
	return r, nil
}

func (m *roomManager) get(name string) *room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rooms[name]
}

// remove forgets r if it is still the room of its name.
func (m *roomManager) remove(r *room) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.rooms[r.name] == r {
		delete(m.rooms, r.name)
		m.deps.roomsGauge.Dec()
	}
}

func (m *roomManager) all() []*room {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*room, 0, len(m.rooms))
	for _, r := range m.rooms {
		out = append(out, r)
	}
	return out
}

func (m *roomManager) closeAll() {
	for _, r := range m.all() {
		r.close(livekit.DisconnectReason_SERVER_SHUTDOWN)
	}
}

func (m *roomManager) participantCount() int {
	n := 0
	for _, r := range m.all() {
		n += len(r.snapshot())
	}
	return n
}

// room is one LiveKit room on this node. Lock order (see participant): room.mu may be held
// while reading a participant under its mu (info), never the reverse; broadcasts iterate a
// snapshot with no lock held.
type room struct {
	mgr       *roomManager
	deps      roomDeps
	log       *slog.Logger
	name, sid string
	createdAt time.Time
	opts      roomOptions

	mu           sync.Mutex
	participants map[string]*participant // by identity
	metadata     string
	// updateScheduled: a coalesced room_update is pending.
	updateScheduled bool
	closed          bool
	// moved: the room goes on on another node (drain, lost lease); it is not finished.
	moved      bool
	emptyTimer *time.Timer
	stop       chan struct{}
	wg         sync.WaitGroup

	activity activity // speakers and quality state, owned by the activity goroutine

	// span links the room with its parts on other nodes (relayroom.go); origin is "" when
	// this node owns the room.
	span *span
}

func newRoom(m *roomManager, name string, opts roomOptions, origin string) *room {
	r := &room{
		mgr: m, deps: m.deps, name: name, sid: ids.NewRoomID(), createdAt: m.deps.now(), opts: opts, metadata: opts.metadata,
		participants: make(map[string]*participant), stop: make(chan struct{}),
	}
	r.span = newSpan(r, m.deps.relay, origin)
	r.log = m.deps.log.With("room", name, "room_sid", r.sid)
	if origin != "" {
		r.log = r.log.With("origin", origin)
	}
	// A room nobody manages to join closes like an empty one.
	r.emptyTimer = time.AfterFunc(opts.emptyTimeout, r.closeIfEmpty)
	r.wg.Add(1)
	go r.runActivity()
	r.log.Info("room created")
	return r
}

// info is the Room message SDKs get in JoinResponse and room_update.
func (r *room) info() *livekit.Room {
	r.mu.Lock()
	n := len(r.participants)
	metadata := r.metadata
	pubs, recording := 0, false
	for _, p := range r.participants {
		if p.isPublisher() {
			pubs++
		}
		recording = recording || p.recorder()
	}
	sid := r.sid
	r.mu.Unlock()
	n += r.span.remoteCount()
	return &livekit.Room{
		Sid: sid, Name: r.name,
		EmptyTimeout:    uint32(r.opts.emptyTimeout / time.Second),
		MaxParticipants: uint32(r.opts.maxParticipants),
		CreationTime:    r.createdAt.Unix(), CreationTimeMs: r.createdAt.UnixMilli(),
		EnabledCodecs:   enabledCodecs(r.opts.codecs),
		NumParticipants: uint32(n), NumPublishers: uint32(pubs), Metadata: metadata,
		// A recorder (the recorder grant) is in the room only while it records it: SDKs
		// show their recording indicator from this flag (room_update on its join and leave).
		ActiveRecording: recording,
	}
}

func (r *room) setMetadata(m string) {
	r.mu.Lock()
	r.metadata = m
	r.mu.Unlock()
}

// join admits p. If another participant has p's identity it is returned as replaced (the
// caller closes it, as LiveKit does with a DUPLICATE_IDENTITY leave).
func (r *room) join(p *participant) (replaced *participant, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, ErrRoomClosed
	}
	replaced = r.participants[p.identity]
	max := r.opts.maxParticipants
	if replaced == nil && max > 0 && len(r.participants) >= max {
		return nil, ErrRoomFull
	}
	r.participants[p.identity] = p
	r.emptyTimer.Stop()
	return replaced, nil
}

// leave forgets p (unless it was already replaced) and starts the empty timer.
func (r *room) leave(p *participant) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.participants[p.identity] == p {
		delete(r.participants, p.identity)
	}
	if len(r.participants) == 0 && !r.closed {
		r.emptyTimer.Reset(r.opts.emptyTimeout)
	}
}

// snapshot returns the current participants, safe to iterate without the room lock.
func (r *room) snapshot() []*participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]*participant, 0, len(r.participants))
	for _, p := range r.participants {
		out = append(out, p)
	}
	return out
}

func (r *room) byIdentity(identity string) *participant {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.participants[identity]
}

// others returns everyone but p.
func (r *room) others(p *participant) []*participant {
	all := r.snapshot()
	out := all[:0]
	for _, o := range all {
		if o != p {
			out = append(out, o)
		}
	}
	return out
}

// othersThan returns everyone but the track publisher tp.
func (r *room) othersThan(tp trackPublisher) []*participant {
	all := r.snapshot()
	out := all[:0]
	for _, o := range all {
		if !tp.is(o) {
			out = append(out, o)
		}
	}
	return out
}

// broadcastParticipant tells everyone but p about p's new state (hidden participants are
// never announced), here and on the room's other nodes.
func (r *room) broadcastParticipant(p *participant, info *livekit.ParticipantInfo) {
	if p.hidden() {
		return
	}
	r.span.localChanged(p, info)
	for _, o := range r.others(p) {
		if o.identity == p.identity {
			continue // p's replacement already knows; it must not see its old self leave
		}
		o.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Update{
			Update: &livekit.ParticipantUpdate{Participants: []*livekit.ParticipantInfo{info}},
		}})
	}
}

// roomUpdateDelay coalesces the room_update that follows joins and leaves: a class of
// hundreds joining at once must not cost each participant one message per join.
const roomUpdateDelay = 200 * time.Millisecond

// countsChanged schedules one room_update for the participant counts.
func (r *room) countsChanged() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed || r.updateScheduled {
		return
	}
	r.updateScheduled = true
	time.AfterFunc(roomUpdateDelay, func() {
		r.mu.Lock()
		r.updateScheduled = false
		closed := r.closed
		r.mu.Unlock()
		if !closed {
			r.broadcastRoomUpdate()
		}
	})
}

// broadcastRoomUpdate sends room_update to everyone now.
func (r *room) broadcastRoomUpdate() {
	info := r.info()
	for _, o := range r.snapshot() {
		o.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_RoomUpdate{
			RoomUpdate: &livekit.RoomUpdate{Room: proto.Clone(info).(*livekit.Room)},
		}})
	}
}

// trackPublished subscribes everyone who wants t.
func (r *room) trackPublished(t *publishedTrack) {
	for _, o := range r.othersThan(t.owner) {
		o.offerTrack(t)
	}
}

// trackUnpublished removes t from every subscriber.
func (r *room) trackUnpublished(t *publishedTrack) {
	for _, o := range r.othersThan(t.owner) {
		o.dropSubscription(t.sid)
	}
}

// findTrack finds a published track by sid, here or relayed from the origin.
func (r *room) findTrack(sid string) *publishedTrack {
	if t := r.findLocalTrack(sid); t != nil {
		return t
	}
	return r.span.track(sid)
}

// findLocalTrack finds a track published by a participant on this node.
func (r *room) findLocalTrack(sid string) *publishedTrack {
	for _, p := range r.snapshot() {
		if t := p.publishedTrack(sid); t != nil {
			return t
		}
	}
	return nil
}

// notify sends a webhook about the room. A room spanning nodes is reported once, by its
// origin: relay nodes send none.
func (r *room) notify(event string, ev *livekit.WebhookEvent) {
	if r.span.isRelay() {
		return
	}
	r.deps.notify(event, ev)
}

func (r *room) closeIfEmpty() {
	r.mu.Lock()
	empty := len(r.participants) == 0
	r.mu.Unlock()
	// The origin stays while relay nodes have participants; a relay room closes (and
	// detaches) when its own participants are gone.
	if empty && (r.span.isRelay() || r.span.remoteCount() == 0) {
		r.close(livekit.DisconnectReason_ROOM_CLOSED)
	}
}

// emptyCheck restarts the empty timer when the last participant anywhere left.
func (r *room) emptyCheck() {
	if r.span.isRelay() || r.span.remoteCount() > 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.participants) == 0 && !r.closed {
		r.emptyTimer.Reset(r.opts.emptyTimeout)
	}
}

// close disconnects everyone and forgets the room. Safe to call more than once.
func (r *room) close(reason livekit.DisconnectReason) {
	r.closeWith(reason, livekit.LeaveRequest_DISCONNECT)
}

// closeWith closes the room, telling participants to take action (DISCONNECT, or RECONNECT
// when the room moves to another node).
func (r *room) closeWith(reason livekit.DisconnectReason, action livekit.LeaveRequest_Action) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	r.emptyTimer.Stop()
	ps := make([]*participant, 0, len(r.participants))
	for _, p := range r.participants {
		ps = append(ps, p)
	}
	r.mu.Unlock()

	r.mgr.remove(r)
	r.mu.Lock()
	moved := r.moved
	r.mu.Unlock()
	r.span.closing(moved)
	// The lease goes first, so participants told to reconnect find the room unowned and
	// are placed on a serving node. A relay node holds no lease.
	if !r.span.isRelay() {
		r.deps.release(r.name)
	}
	for _, p := range ps {
		p.close(closeParams{reason: reason, sendLeave: true, action: action})
	}
	for _, p := range ps {
		p.wait()
	}
	close(r.stop)
	r.wg.Wait()
	if moved {
		r.log.Info("room moved to another node", "reason", reason.String(), "participants", len(ps))
		return
	}
	r.notify(webhook.RoomFinished, &livekit.WebhookEvent{Room: r.info()})
	r.log.Info("room closed", "reason", reason.String())
}

func enabledCodecs(names []string) []*livekit.Codec {
	if len(names) == 0 {
		names = []string{"audio/opus", "video/VP8", "video/H264", "video/VP9", "video/AV1"}
	}
	out := make([]*livekit.Codec, 0, len(names))
	for _, n := range names {
		out = append(out, &livekit.Codec{Mime: n})
	}
	return out
}

// notify queues a webhook if webhooks are configured.
func (s *Server) notify(event string, ev *livekit.WebhookEvent) {
	if s.hooks == nil {
		return
	}
	ev.Event = event
	ev.CreatedAt = s.now().Unix()
	ev.Id = fmt.Sprintf("EV_%s", ids.NewTrackID()[len(ids.TrackPrefix):])
	s.hooks.Notify(ev)
}
