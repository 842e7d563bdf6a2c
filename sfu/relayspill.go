package sfu

import (
	"maps"
	"net/http"
	"sort"
	"time"

	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/placement"
	"github.com/atrium-live/atrium/pkg/sigroute"
)

// spillPendingFor is how long a participant sent to a relay node counts there before it
// shows up (a join takes a signal round trip and an ICE connection).
const spillPendingFor = 10 * time.Second

// spillInput is what the origin knows when a participant of a room it owns arrives.
type spillInput struct {
	Local        int            // the room's participants on the origin
	PerNode      int            // RelayConfig.ParticipantsPerNode (0: unbounded)
	Headroom     float64        // the origin's placement headroom
	MinHeadroom  float64        // RelayConfig.MinHeadroom (0: off)
	Relays       map[string]int // relay nodes of the room and their participants (pending included)
	Candidates   []spillCandidate
	IdentityNode string // the relay node the joining identity is on already ("" if none)
}

type spillCandidate struct {
	ID       string
	Headroom float64
}

// chooseSpill decides where a new participant of a room goes: "" keeps it on the origin,
// else the relay node to send it to. A returning identity goes back to its node (so a
// resume finds its session). While the origin has room (under PerNode and above
// MinHeadroom) it stays; else the fullest relay node of the room still under PerNode gets
// it (fewer nodes per room: fewer copies of each track), else the serving node with the
// most headroom opens as a new relay node; with none, the origin takes it anyway.
func chooseSpill(in spillInput) string {
	if in.IdentityNode != "" {
		return in.IdentityNode
	}
	if in.PerNode <= 0 && in.MinHeadroom <= 0 {
		return ""
	}
	underCap := func(n int) bool { return in.PerNode <= 0 || n < in.PerNode }
	if underCap(in.Local) && (in.MinHeadroom <= 0 || in.Headroom >= in.MinHeadroom) {
		return ""
	}
	live := map[string]float64{}
	for _, c := range in.Candidates {
		live[c.ID] = c.Headroom
	}
	best, bestN := "", -1
	for id, n := range in.Relays {
		if _, ok := live[id]; !ok || !underCap(n) || live[id] <= 0 {
			continue
		}
		if n > bestN || (n == bestN && id < best) {
			best, bestN = id, n
		}
	}
	if best != "" {
		return best
	}
	cands := append([]spillCandidate(nil), in.Candidates...)
	sort.Slice(cands, func(i, j int) bool {
		if cands[i].Headroom != cands[j].Headroom {
			return cands[i].Headroom > cands[j].Headroom
		}
		return cands[i].ID < cands[j].ID
	})
	for _, c := range cands {
		if _, relaying := in.Relays[c.ID]; !relaying && c.Headroom > 0 {
			return c.ID
		}
	}
	return ""
}

// spill is the router's Spill hook on the origin: which node serves this participant.
func (s *Server) spill(r *http.Request, roomName, identity string) string {
	if s.relay == nil || s.draining.Load() {
		return ""
	}
	rm := s.rooms.get(roomName)
	if rm == nil || rm.span.isRelay() {
		return ""
	}
	if rm.byIdentity(identity) != nil {
		return "" // connected here: a resume or a replacement stays
	}
	now := s.now()
	counts, nodeOf := rm.span.relayLoad(now)
	// The node's load as it last gossiped it (measuring here would reset the sampling
	// window of the load loop).
	headroom := 1.0
	if self, ok := s.node.Member(s.cfg.NodeID); ok {
		headroom = placement.Headroom(self.Load)
	}
	in := spillInput{
		Local: len(rm.snapshot()), PerNode: s.cfg.Relay.ParticipantsPerNode,
		Headroom: headroom, MinHeadroom: s.cfg.Relay.MinHeadroom,
		Relays: counts,
	}
	for _, m := range s.node.Members() {
		if m.Role != cluster.RoleSFU || m.NodeID == s.cfg.NodeID || m.State != cluster.StateServing || m.RelayAddr == "" {
			continue
		}
		in.Candidates = append(in.Candidates, spillCandidate{ID: m.NodeID, Headroom: placement.Headroom(m.Load)})
		if nodeOf[identity] == m.NodeID {
			in.IdentityNode = m.NodeID
		}
	}
	target := chooseSpill(in)
	if target != "" && target != s.cfg.NodeID {
		rm.span.addPending(target, identity, now)
		s.log.Debug("participant placed on a relay node", "room", roomName, "identity", identity, "node", target)
		return target
	}
	return ""
}

// relayOrigin is the origin a request was spilled from, when this node should serve it as
// a relay node: the router checked that origin owns the room.
func relayOrigin(r *http.Request) string { return r.Header.Get(sigroute.RelayHeader) }

// SetRelayLoss makes this node drop the given fraction (0..1) of the RTP it sends on relay
// links, at random: fault injection for tests and drills, which the links must repair. A
// no-op with relaying off.
func (s *Server) SetRelayLoss(fraction float64) {
	if s.relay != nil {
		s.relay.setLoss(fraction)
	}
}

// RelayPulls reports, per track this node receives over a relay link, the layers it pulls
// from the origin (for operators and tests).
func (s *Server) RelayPulls() map[string][]int {
	out := map[string][]int{}
	if s.relay == nil {
		return out
	}
	s.relay.mu.Lock()
	rts := make([]*remoteTrack, 0, len(s.relay.remote))
	for _, rt := range s.relay.remote {
		rts = append(rts, rt)
	}
	s.relay.mu.Unlock()
	for _, rt := range rts {
		var ls []int
		for l, on := range rt.pulledLayers() {
			if on {
				ls = append(ls, l)
			}
		}
		out[rt.t.sid] = ls
	}
	return out
}

// RelayFeeds reports a spanning room's media tree as this node knows it: on the origin,
// each relay node and the node it pulls media from; on a relay node, itself and its feed.
func (s *Server) RelayFeeds(room string) map[string]string {
	out := map[string]string{}
	rm := s.rooms.get(room)
	if s.relay == nil || rm == nil {
		return out
	}
	sp := rm.span
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.origin != "" {
		out[s.cfg.NodeID] = sp.feedLocked()
		return out
	}
	maps.Copy(out, sp.feeds)
	return out
}

// BreakRelayLinks closes the room-state connections of this node's relay links, as a
// network fault would: fault injection for tests and drills (the links must come back
// without moving anyone). A no-op with relaying off.
func (s *Server) BreakRelayLinks() {
	if s.relay != nil {
		s.relay.breakLinks()
	}
}
