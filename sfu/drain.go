package sfu

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/pkg/access"
)

// Drain takes a node out of service without ending its classes. Draining, the node fails
// readiness, tells the cluster (gossip state "draining", so no new room is placed on it),
// and refuses rooms it does not already run; its running rooms go on and may still admit
// their own participants. Rooms that end before the deadline are untouched. At the deadline
// every room still running moves: its lease is released and its participants receive a
// LeaveRequest with action RECONNECT, which both LiveKit SDKs answer with a full reconnect
// that the router places on a serving node. A drain can be cancelled until its deadline: the
// node then serves again.

// DrainStatus reports a drain's progress.
type DrainStatus struct {
	Draining     bool      `json:"draining"`
	Deadline     time.Time `json:"deadline,omitzero"`
	Rooms        int       `json:"rooms"`
	Participants int       `json:"participants"`
	// Moved counts rooms moved to other nodes at the deadline of the current (or last) drain.
	Moved int `json:"moved"`
}

// drainer is the node's drain state machine; every method is safe for concurrent use.
type drainer struct {
	s *Server

	mu       sync.Mutex
	deadline time.Time
	cancel   chan struct{} // closed to cancel the running drain; nil when not draining
	done     chan struct{} // closed when the running drain finished (emptied or moved)
	moved    int
	final    bool // the process is shutting down: the drain cannot be cancelled
}

// Drain starts draining with the given deadline (a drain already running keeps its
// deadline unless the new one is sooner). It returns at once; DrainDone waits.
func (s *Server) Drain(deadline time.Duration) {
	d := &s.drainer
	d.mu.Lock()
	defer d.mu.Unlock()
	at := s.now().Add(deadline)
	if d.cancel != nil {
		if at.Before(d.deadline) {
			d.deadline = at
			close(d.cancel) // restart the wait with the sooner deadline
			d.cancel = make(chan struct{})
			d.done = make(chan struct{})
			go d.run(at, d.cancel, d.done)
		}
		return
	}
	s.ready.Store(false)
	s.draining.Store(true)
	s.metrics.draining.Set(1)
	d.deadline, d.moved = at, 0
	d.cancel, d.done = make(chan struct{}), make(chan struct{})
	s.node.publish()
	s.log.Info("drain started", "deadline", at, "rooms", len(s.rooms.all()), "participants", s.rooms.participantCount())
	go d.run(at, d.cancel, d.done)
}

// CancelDrain stops a running drain: the node serves again. It reports whether a drain was
// running (a drain past its deadline has already moved its rooms and cannot be undone).
func (s *Server) CancelDrain() bool {
	d := &s.drainer
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cancel == nil || d.final {
		return false
	}
	close(d.cancel)
	d.cancel, d.done = nil, nil
	s.draining.Store(false)
	s.ready.Store(true)
	s.metrics.draining.Set(0)
	s.node.publish()
	s.log.Info("drain cancelled; serving again")
	return true
}

// DrainStatus reports the current drain.
func (s *Server) DrainStatus() DrainStatus {
	d := &s.drainer
	d.mu.Lock()
	st := DrainStatus{Draining: d.cancel != nil, Moved: d.moved}
	if st.Draining {
		st.Deadline = d.deadline
	}
	d.mu.Unlock()
	st.Rooms = len(s.rooms.all())
	st.Participants = s.rooms.participantCount()
	return st
}

// finalDrain drains for shutdown: it cannot be cancelled, and it returns when the node is
// empty or its rooms have moved.
func (s *Server) finalDrain(deadline time.Duration) {
	s.Drain(deadline)
	d := &s.drainer
	d.mu.Lock()
	d.final = true
	done := d.done
	d.mu.Unlock()
	if done != nil {
		<-done
	}
}

// run waits for the node to empty or the deadline, reporting progress, then moves what is
// left. cancel aborts it.
func (d *drainer) run(deadline time.Time, cancel, done chan struct{}) {
	s := d.s
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	lastLog := time.Now()
	for {
		rooms, parts := len(s.rooms.all()), s.rooms.participantCount()
		s.metrics.drainRooms.Set(float64(rooms))
		s.metrics.drainParticipants.Set(float64(parts))
		if parts == 0 {
			s.log.Info("drain finished: node empty")
			close(done)
			return
		}
		if time.Since(lastLog) > 5*time.Second {
			s.log.Info("draining", "rooms", rooms, "participants", parts, "deadline_in", time.Until(deadline).Round(time.Second))
			lastLog = time.Now()
		}
		select {
		case <-cancel:
			return
		case <-tick.C:
			continue
		case <-timer.C:
		}
		break
	}
	moved := 0
	for _, r := range s.rooms.all() {
		select {
		case <-cancel:
			return
		default:
		}
		if s.node.gossip != nil {
			r.move()
		} else {
			// A node alone has nowhere to send its rooms: they end.
			r.close(livekit.DisconnectReason_SERVER_SHUTDOWN)
		}
		moved++
	}
	d.mu.Lock()
	d.moved = moved
	d.mu.Unlock()
	s.metrics.drainRooms.Set(0)
	s.metrics.drainParticipants.Set(0)
	s.log.Info("drain deadline passed; rooms moved", "rooms", moved)
	close(done)
}

// handleDrain is the operator's drain control: POST starts (optional ?deadline=30s,
// default drain_timeout), DELETE cancels, GET reports. It needs a token with the roomCreate
// and roomList grants (an operator's, never a participant's).
func (s *Server) handleDrain(w http.ResponseWriter, r *http.Request) {
	if !access.RequireOperator(w, r, s.keys) {
		return
	}
	switch r.Method {
	case http.MethodPost:
		deadline := s.cfg.DrainTimeout
		if v := r.URL.Query().Get("deadline"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				http.Error(w, "deadline: want a duration such as 30s", http.StatusBadRequest)
				return
			}
			deadline = d
		}
		s.Drain(deadline)
	case http.MethodDelete:
		if !s.CancelDrain() {
			http.Error(w, "no drain to cancel", http.StatusConflict)
			return
		}
	case http.MethodGet:
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(s.DrainStatus())
}

// handleCluster lists the cluster as this node sees it (operators: `atrium` docs/cluster.md).
func (s *Server) handleCluster(w http.ResponseWriter, r *http.Request) {
	if !access.RequireOperator(w, r, s.keys) {
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"self": s.cfg.NodeID, "members": s.Members(), "drain": s.DrainStatus()})
}
