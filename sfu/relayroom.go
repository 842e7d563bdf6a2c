package sfu

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/relaywire"
	"github.com/atrium-live/atrium/sfu/internal/webhook"
)

// span is a room's part in a room spanning nodes (docs/relay.md). On the origin (the
// room's owner) it knows the relay nodes attached and their participants, and repeats
// every change to the others; on a relay node it mirrors the origin's participants and
// tracks. Either way, what participants see is one room. With relaying off (svc nil) every
// method is a no-op.
//
// Lock order: mu is taken after nothing but may take room.mu and participants' mu inside
// (snapshots); sends to links only queue.
type span struct {
	r      *room
	svc    *relayService
	origin string // "" on the origin itself

	ready     chan struct{} // relay: closed once the snapshot arrived (or attach failed)
	readyOnce sync.Once
	readyErr  error

	mu      sync.Mutex
	remote  map[string]*remoteParticipant // by identity
	nodes   map[string]bool               // origin: relay nodes attached
	pending []spillEntry                  // origin: participants sent to relay nodes, not yet seen there
	order   []string                      // origin: relay nodes in the order they attached
	feeds   map[string]string             // origin: the media tree (planFeeds), relay node -> its feed
	feed    string                        // relay: the node media is pulled from ("": the origin)
	// relay: pulls from nodes this one feeds, for tracks it does not know yet (the
	// origin's news reach the nodes of a tree in any order); replayed when they appear.
	pendingPulls map[pullKey][]int
}

type pullKey struct{ peer, track string }

// remoteParticipant is a participant connected to another node.
type remoteParticipant struct {
	info   *livekit.ParticipantInfo
	node   string                  // origin: the relay node it is on
	tracks map[string]*remoteTrack // relay: its tracks, received from the origin
}

type spillEntry struct {
	node, identity string
	at             time.Time
}

func newSpan(r *room, svc *relayService, origin string) *span {
	return &span{r: r, svc: svc, origin: origin, ready: make(chan struct{}),
		remote: map[string]*remoteParticipant{}, nodes: map[string]bool{}, feeds: map[string]string{},
		pendingPulls: map[pullKey][]int{}}
}

func (sp *span) isRelay() bool { return sp != nil && sp.origin != "" }

// targets are the nodes a change on this node goes to: the origin, or every relay node.
func (sp *span) targetsLocked(except string) []string {
	if sp.origin != "" {
		if sp.origin == except {
			return nil
		}
		return []string{sp.origin}
	}
	out := make([]string, 0, len(sp.nodes))
	for n := range sp.nodes {
		if n != except {
			out = append(out, n)
		}
	}
	return out
}

func (sp *span) sendLocked(to []string, c *relaywire.Control) {
	for _, n := range to {
		if err := sp.svc.send(n, c); err != nil {
			sp.r.log.Info("relay message not sent", "to", n, "kind", c.Kind, "err", err)
		}
	}
}

func trackCodecs(p *participant) []relaywire.TrackCodec {
	var out []relaywire.TrackCodec
	for _, t := range p.publishedTracks() {
		c := t.recv.Codec()
		out = append(out, relaywire.TrackCodec{Sid: t.sid, MimeType: c.MimeType, ClockRate: c.ClockRate,
			Channels: c.Channels, Fmtp: c.SDPFmtpLine, PayloadType: uint8(c.PayloadType)})
	}
	return out
}

func marshalInfo(info *livekit.ParticipantInfo) []byte {
	b, _ := proto.Marshal(info)
	return b
}

// localChanged sends a local participant's new state to the other nodes.
func (sp *span) localChanged(p *participant, info *livekit.ParticipantInfo) {
	if sp == nil || sp.svc == nil {
		return
	}
	c := &relaywire.Control{Kind: relaywire.KindParticipant, Room: sp.r.name,
		Participants: [][]byte{marshalInfo(info)}, Tracks: trackCodecs(p)}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.sendLocked(sp.targetsLocked(""), c)
}

// forwardData sends a data packet from a local participant to the other nodes.
func (sp *span) forwardData(label string, raw []byte, dest []string, from string) {
	if sp == nil || sp.svc == nil {
		return
	}
	c := &relaywire.Control{Kind: relaywire.KindData, Room: sp.r.name, Data: raw, Label: label, Dest: dest, From: from}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.sendLocked(sp.targetsLocked(""), c)
}

// forwardSpeakers sends the origin's speaker changes to the relay nodes.
func (sp *span) forwardSpeakers(changed []*livekit.SpeakerInfo) {
	if sp == nil || sp.svc == nil || sp.origin != "" {
		return
	}
	b, _ := proto.Marshal(&livekit.SpeakersChanged{Speakers: changed})
	c := &relaywire.Control{Kind: relaywire.KindSpeakers, Room: sp.r.name, Speakers: b}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.sendLocked(sp.targetsLocked(""), c)
}

// forwardRoomMetadata sends the origin's new room metadata to the relay nodes.
func (sp *span) forwardRoomMetadata(m string) {
	if sp == nil || sp.svc == nil || sp.origin != "" {
		return
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.sendLocked(sp.targetsLocked(""), &relaywire.Control{Kind: relaywire.KindRoom, Room: sp.r.name, RoomMetadata: m})
}

// applyRoom (relay) takes the origin's new room metadata.
func (sp *span) applyRoom(from string, c *relaywire.Control) {
	if from != sp.origin {
		return
	}
	sp.r.setMetadata(c.RoomMetadata)
	sp.r.broadcastRoomUpdate()
}

// remoteInfos are the participants on other nodes, for a JoinResponse.
func (sp *span) remoteInfos(except string) []*livekit.ParticipantInfo {
	if sp == nil {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	out := make([]*livekit.ParticipantInfo, 0, len(sp.remote))
	for id, rp := range sp.remote {
		if id != except {
			out = append(out, proto.Clone(rp.info).(*livekit.ParticipantInfo))
		}
	}
	return out
}

// remoteTracks are the tracks received from the origin.
func (sp *span) remoteTracks() []*publishedTrack {
	if sp == nil {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	var out []*publishedTrack
	for _, rp := range sp.remote {
		for _, rt := range rp.tracks {
			out = append(out, rt.t)
		}
	}
	return out
}

func (sp *span) track(sid string) *publishedTrack {
	if sp == nil {
		return nil
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for _, rp := range sp.remote {
		if rt := rp.tracks[sid]; rt != nil {
			return rt.t
		}
	}
	return nil
}

func (sp *span) remoteCount() int {
	if sp == nil {
		return 0
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.remote)
}

// sendLocals sends m to every participant on this node.
func (sp *span) sendLocals(m func() *livekit.SignalResponse) {
	for _, o := range sp.r.snapshot() {
		o.send(m())
	}
}

// attach (origin) admits a relay node to the room and sends it the snapshot. A node that
// attaches again after its link came back lists its participants (c.Participants): those
// the origin still counts there but it no longer has left meanwhile.
func (sp *span) attach(peer string, c0 *relaywire.Control) {
	if len(c0.Participants) > 0 || sp.hasNode(peer) {
		sp.reconcile(peer, c0)
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if !sp.nodes[peer] {
		sp.order = append(sp.order, peer)
	}
	sp.nodes[peer] = true
	changed := sp.replanLocked()
	c := &relaywire.Control{Kind: relaywire.KindSnapshot, Room: sp.r.name, RoomSID: sp.r.sid, Feed: sp.feeds[peer]}
	sp.r.mu.Lock()
	c.RoomMetadata = sp.r.metadata
	sp.r.mu.Unlock()
	for _, p := range sp.r.snapshot() {
		if p.hidden() {
			continue
		}
		c.Participants = append(c.Participants, marshalInfo(p.info()))
		c.Tracks = append(c.Tracks, trackCodecs(p)...)
	}
	for _, rp := range sp.remote {
		if rp.node != peer {
			c.Participants = append(c.Participants, marshalInfo(rp.info))
		}
	}
	sp.sendLocked([]string{peer}, c)
	sp.sendFeedsLocked(changed, peer)
	sp.r.log.Info("relay node attached", "node", peer, "feed", sp.feeds[peer])
}

func (sp *span) hasNode(peer string) bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.nodes[peer]
}

// reconcile (origin) brings the origin's view of peer's participants up to date with the
// list peer sent on re-attaching.
func (sp *span) reconcile(peer string, c0 *relaywire.Control) {
	listed := map[string]bool{}
	for _, raw := range c0.Participants {
		info := &livekit.ParticipantInfo{}
		if proto.Unmarshal(raw, info) == nil {
			listed[info.Identity] = true
		}
	}
	var gone [][]byte
	sp.mu.Lock()
	for id, rp := range sp.remote {
		if rp.node == peer && !listed[id] {
			left := proto.Clone(rp.info).(*livekit.ParticipantInfo)
			left.State = livekit.ParticipantInfo_DISCONNECTED
			gone = append(gone, marshalInfo(left))
		}
	}
	sp.mu.Unlock()
	sp.applyParticipants(peer, &relaywire.Control{Kind: relaywire.KindParticipant, Room: sp.r.name,
		Participants: append(slices.Clone(c0.Participants), gone...), Tracks: c0.Tracks})
}

// relinked: the link to peer came back after a fault. A relay room whose origin it is
// attaches again with its participants (the origin answers with a snapshot, which
// reconciles this side), and every track pulled from peer asks again for what it needs:
// control messages sent while the link was down are lost, media (UDP) was not.
func (sp *span) relinked(peer string) {
	if sp == nil || sp.svc == nil {
		return
	}
	if sp.origin == peer {
		c := &relaywire.Control{Kind: relaywire.KindAttach, Room: sp.r.name}
		for _, p := range sp.r.snapshot() {
			if p.hidden() {
				continue
			}
			c.Participants = append(c.Participants, marshalInfo(p.info()))
			c.Tracks = append(c.Tracks, trackCodecs(p)...)
		}
		if err := sp.svc.send(peer, c); err != nil {
			sp.r.log.Info("relay re-attach not sent", "err", err)
		}
	}
	sp.mu.Lock()
	var rts []*remoteTrack
	for _, rp := range sp.remote {
		for _, rt := range rp.tracks {
			rts = append(rts, rt)
		}
	}
	sp.mu.Unlock()
	for _, rt := range rts {
		rt.repull(peer)
	}
}

// replanLocked (origin) recomputes the media tree after a relay node attached or left and
// returns the relay nodes whose feed changed.
func (sp *span) replanLocked() []string {
	self := sp.svc.s.cfg.NodeID
	plan := planFeeds(self, sp.svc.s.cfg.Relay.MaxFanout, sp.feeds, sp.order)
	var changed []string
	for _, n := range sp.order {
		if old, ok := sp.feeds[n]; ok && old != plan[n] {
			changed = append(changed, n)
		}
	}
	sp.feeds = plan
	if len(changed) > 0 {
		sp.r.log.Info("relay tree rebuilt", "moved", changed, "depth", treeDepth(plan, self))
	}
	return changed
}

// sendFeedsLocked (origin) tells relay nodes their new feed (except one that learns it
// from its snapshot).
func (sp *span) sendFeedsLocked(nodes []string, except string) {
	for _, n := range nodes {
		if n != except {
			sp.sendLocked([]string{n}, &relaywire.Control{Kind: relaywire.KindFeed, Room: sp.r.name, Feed: sp.feeds[n]})
		}
	}
}

// feedLocked (relay) is the node this room's media comes from.
func (sp *span) feedLocked() string {
	if sp.feed != "" {
		return sp.feed
	}
	return sp.origin
}

// applyFeed (relay) takes the origin's decision of where this node pulls media from.
func (sp *span) applyFeed(from string, c *relaywire.Control) {
	if from != sp.origin {
		return
	}
	sp.setFeed(c.Feed)
}

// setFeed (relay) switches the room's media source: every remote track stops pulling from
// the old feed and pulls what it needs from the new one (its subscribers resume at the
// next keyframe, as after a publisher restart).
func (sp *span) setFeed(feed string) {
	if feed == "" {
		feed = sp.origin
	}
	sp.mu.Lock()
	if sp.feedLocked() == feed {
		sp.mu.Unlock()
		return
	}
	old := sp.feedLocked()
	sp.feed = feed
	var rts []*remoteTrack
	for _, rp := range sp.remote {
		for _, rt := range rp.tracks {
			rts = append(rts, rt)
		}
	}
	sp.mu.Unlock()
	// Dial now, so that the pulls below only queue (they are sent under track locks).
	if _, err := sp.svc.link(feed); err != nil {
		sp.r.log.Warn("relay feed unreachable", "feed", feed, "err", err)
	}
	for _, rt := range rts {
		rt.setSource(feed)
	}
	sp.r.log.Info("relay feed changed", "from", old, "to", feed, "tracks", len(rts))
}

// attachAndWait (relay) asks the origin for the room and waits for its snapshot.
func (sp *span) attachAndWait(wait time.Duration) error {
	if err := sp.svc.send(sp.origin, &relaywire.Control{Kind: relaywire.KindAttach, Room: sp.r.name}); err != nil {
		return err
	}
	select {
	case <-sp.ready:
		return sp.readyErr
	case <-time.After(wait):
		return fmt.Errorf("relay: no snapshot of room %s from %s within %s", sp.r.name, sp.origin, wait)
	}
}

func (sp *span) setReady(err error) {
	sp.readyOnce.Do(func() {
		sp.readyErr = err
		close(sp.ready)
	})
}

// applySnapshot (relay) takes the origin's state of the room.
func (sp *span) applySnapshot(peer string, c *relaywire.Control) {
	if peer != sp.origin {
		return
	}
	sp.setFeed(c.Feed)
	sp.r.mu.Lock()
	sp.r.sid = c.RoomSID
	sp.r.metadata = c.RoomMetadata
	sp.r.mu.Unlock()
	// Participants the origin no longer lists (a re-attach) have left.
	seen := map[string]bool{}
	for _, raw := range c.Participants {
		info := &livekit.ParticipantInfo{}
		if proto.Unmarshal(raw, info) == nil {
			seen[info.Identity] = true
		}
	}
	var gone [][]byte
	sp.mu.Lock()
	for id, rp := range sp.remote {
		if !seen[id] {
			left := proto.Clone(rp.info).(*livekit.ParticipantInfo)
			left.State = livekit.ParticipantInfo_DISCONNECTED
			gone = append(gone, marshalInfo(left))
		}
	}
	sp.mu.Unlock()
	c.Participants = append(c.Participants, gone...)
	sp.applyParticipants(peer, c)
	sp.setReady(nil)
}

// applyParticipants takes participants that joined, changed or left on another node.
func (sp *span) applyParticipants(from string, c *relaywire.Control) {
	if sp.origin != "" && from != sp.origin {
		return
	}
	codecs := map[string]relaywire.TrackCodec{}
	for _, tc := range c.Tracks {
		codecs[tc.Sid] = tc
	}
	var (
		updates      []*livekit.ParticipantInfo
		added        []*publishedTrack
		removed      []*remoteTrack
		joined, left []*livekit.ParticipantInfo
	)
	sp.mu.Lock()
	for _, raw := range c.Participants {
		info := &livekit.ParticipantInfo{}
		if err := proto.Unmarshal(raw, info); err != nil || info.Identity == "" {
			continue
		}
		if sp.r.byIdentity(info.Identity) != nil {
			continue // connected here (it moved between nodes): this node's view wins
		}
		rp := sp.remote[info.Identity]
		if rp != nil && rp.info.Sid == info.Sid && info.Version < rp.info.Version && info.State != livekit.ParticipantInfo_DISCONNECTED {
			continue // stale
		}
		if info.State == livekit.ParticipantInfo_DISCONNECTED {
			if rp == nil || rp.info.Sid != info.Sid {
				continue
			}
			delete(sp.remote, info.Identity)
			for _, rt := range rp.tracks {
				removed = append(removed, rt)
			}
			updates = append(updates, info)
			left = append(left, info)
			continue
		}
		if rp == nil || rp.info.Sid != info.Sid {
			if rp != nil {
				for _, rt := range rp.tracks {
					removed = append(removed, rt)
				}
			}
			rp = &remoteParticipant{node: from, tracks: map[string]*remoteTrack{}}
			sp.remote[info.Identity] = rp
			joined = append(joined, info)
			sp.seenLocked(from, info.Identity)
		}
		rp.info = info
		{
			// Mirror the participant's tracks: on a relay node those published anywhere
			// else (received from the origin), on the origin those published on relay
			// nodes (received from that node).
			present := map[string]bool{}
			for _, ti := range info.Tracks {
				present[ti.Sid] = true
				if rt := rp.tracks[ti.Sid]; rt != nil {
					rt.t.mu.Lock()
					rt.t.info = proto.Clone(ti).(*livekit.TrackInfo)
					rt.t.mu.Unlock()
					rt.t.recv.SetMuted(ti.Muted)
					continue
				}
				tc, ok := codecs[ti.Sid]
				if !ok {
					continue
				}
				source := from // origin: a relay node's track comes from that node
				if sp.origin != "" {
					source = sp.feedLocked()
				}
				rt := newRemoteTrack(sp.svc, sp, from, source, info, proto.Clone(ti).(*livekit.TrackInfo), tc)
				rp.tracks[ti.Sid] = rt
				sp.svc.mu.Lock()
				sp.svc.remote[ti.Sid] = rt
				sp.svc.mu.Unlock()
				added = append(added, rt.t)
			}
			for sid, rt := range rp.tracks {
				if !present[sid] {
					delete(rp.tracks, sid)
					removed = append(removed, rt)
				}
			}
		}
		updates = append(updates, info)
	}
	var fwd []string
	if sp.origin == "" {
		fwd = sp.targetsLocked(from)
		sp.sendLocked(fwd, c)
	}
	sp.mu.Unlock()

	for _, rt := range removed {
		sp.r.trackUnpublished(rt.t)
		rt.close()
		rt.t.recv.Close()
		if sp.origin == "" {
			sp.r.notify(webhook.TrackUnpublished, &livekit.WebhookEvent{Room: sp.r.info(), Participant: rt.ownerInfo, Track: rt.t.infoClone()})
		}
	}
	if len(updates) > 0 {
		sp.sendLocals(func() *livekit.SignalResponse {
			return &livekit.SignalResponse{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{
				Participants: cloneInfos(updates)}}}
		})
	}
	for _, t := range added {
		sp.replayPulls(t.sid)
		sp.r.trackPublished(t)
		if sp.origin == "" {
			sp.r.notify(webhook.TrackPublished, &livekit.WebhookEvent{Room: sp.r.info(), Participant: t.remote.ownerInfo, Track: t.infoClone()})
		}
	}
	if len(joined)+len(left) > 0 {
		sp.r.countsChanged()
	}
	if sp.origin == "" {
		// The origin reports the whole room once.
		for _, info := range joined {
			sp.r.notify(webhook.ParticipantJoined, &livekit.WebhookEvent{Room: sp.r.info(), Participant: info})
		}
		for _, info := range left {
			sp.r.notify(webhook.ParticipantLeft, &livekit.WebhookEvent{Room: sp.r.info(), Participant: info})
		}
		if len(left) > 0 {
			sp.r.emptyCheck()
		}
	}
}

func cloneInfos(in []*livekit.ParticipantInfo) []*livekit.ParticipantInfo {
	out := make([]*livekit.ParticipantInfo, len(in))
	for i, info := range in {
		out[i] = proto.Clone(info).(*livekit.ParticipantInfo)
	}
	return out
}

// deliverData hands a data packet from another node to the participants here it is for,
// and (origin) to the other relay nodes.
func (sp *span) deliverData(from string, c *relaywire.Control) {
	if c.Label != reliableLabel && c.Label != lossyLabel {
		return
	}
	for _, o := range sp.r.snapshot() {
		if o.identity == c.From || (len(c.Dest) > 0 && !slices.Contains(c.Dest, o.identity)) {
			continue
		}
		o.sendData(c.Label, c.Data)
	}
	if sp.origin == "" {
		sp.mu.Lock()
		sp.sendLocked(sp.targetsLocked(from), c)
		sp.mu.Unlock()
	}
}

// applySpeakers (relay) passes the origin's speaker changes to the participants here.
func (sp *span) applySpeakers(from string, c *relaywire.Control) {
	if from != sp.origin {
		return
	}
	m := &livekit.SpeakersChanged{}
	if proto.Unmarshal(c.Speakers, m) != nil {
		return
	}
	sp.sendLocals(func() *livekit.SignalResponse {
		return &livekit.SignalResponse{Message: &livekit.SignalResponse_SpeakersChanged{
			SpeakersChanged: proto.Clone(m).(*livekit.SpeakersChanged)}}
	})
}

// errNotOrigin: the node asked to be the room's origin is not (any more).
var errNotOrigin = errors.New("relay: that node is not the room's origin")

// originClosed (relay): the origin ended the room, or is not its origin: participants here
// leave (ended) or reconnect (moved) and the router sends them to the room's owner.
func (sp *span) originClosed(from string, moved bool) {
	if from != sp.origin {
		return
	}
	sp.setReady(errNotOrigin)
	if moved {
		go sp.r.move()
	} else {
		go sp.r.close(livekit.DisconnectReason_ROOM_CLOSED)
	}
}

// detach (origin): a relay node left the room.
func (sp *span) detach(peer string) { sp.peerDown(peer) }

// peerDown: the link to peer broke or peer died. A relay room whose origin it was moves
// (its participants reconnect and the router sends them to the room's new owner); the
// origin forgets the participants that were on peer.
func (sp *span) peerDown(peer string) {
	if sp == nil || sp.svc == nil {
		return
	}
	if sp.origin != "" {
		if peer == sp.origin {
			sp.setReady(errNotOrigin)
			go sp.r.move()
		}
		return
	}
	sp.mu.Lock()
	if !sp.nodes[peer] {
		sp.mu.Unlock()
		return
	}
	delete(sp.nodes, peer)
	sp.order = slices.DeleteFunc(sp.order, func(n string) bool { return n == peer })
	sp.sendFeedsLocked(sp.replanLocked(), "")
	var gone [][]byte
	for _, rp := range sp.remote {
		if rp.node == peer {
			left := proto.Clone(rp.info).(*livekit.ParticipantInfo)
			left.State = livekit.ParticipantInfo_DISCONNECTED
			gone = append(gone, marshalInfo(left))
		}
	}
	sp.mu.Unlock()
	sp.r.log.Info("relay node left the room", "node", peer, "participants", len(gone))
	if len(gone) > 0 {
		sp.applyParticipants(peer, &relaywire.Control{Kind: relaywire.KindParticipant, Room: sp.r.name, Participants: gone})
	}
}

// closing is called when the room closes on this node: a relay node detaches, the origin
// tells its relay nodes (moved: the room goes on elsewhere).
func (sp *span) closing(moved bool) {
	if sp == nil || sp.svc == nil {
		return
	}
	sp.mu.Lock()
	var tracks []*remoteTrack
	for _, rp := range sp.remote {
		for _, rt := range rp.tracks {
			tracks = append(tracks, rt)
		}
	}
	if sp.origin != "" {
		sp.sendLocked([]string{sp.origin}, &relaywire.Control{Kind: relaywire.KindDetach, Room: sp.r.name})
	} else {
		sp.sendLocked(sp.targetsLocked(""), &relaywire.Control{Kind: relaywire.KindClosed, Room: sp.r.name, Moved: moved})
	}
	sp.mu.Unlock()
	for _, rt := range tracks {
		rt.close()
		sp.svc.dropSinks("", rt.t.sid)
		rt.t.recv.Close()
	}
}

// seenLocked: a participant sent to node arrived there.
func (sp *span) seenLocked(node, identity string) {
	sp.pending = slices.DeleteFunc(sp.pending, func(e spillEntry) bool { return e.node == node && e.identity == identity })
}

// relayLoad (origin) counts the participants on each relay node, including those sent
// there in the last spillPendingFor that have not arrived yet.
func (sp *span) relayLoad(now time.Time) (counts map[string]int, nodeOf map[string]string) {
	counts, nodeOf = map[string]int{}, map[string]string{}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	for id, rp := range sp.remote {
		counts[rp.node]++
		nodeOf[id] = rp.node
	}
	sp.pending = slices.DeleteFunc(sp.pending, func(e spillEntry) bool { return now.Sub(e.at) > spillPendingFor })
	for _, e := range sp.pending {
		counts[e.node]++
	}
	return counts, nodeOf
}

func (sp *span) addPending(node, identity string, now time.Time) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.pending = append(sp.pending, spillEntry{node: node, identity: identity, at: now})
}
