package sfu

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/roomapi"
	"github.com/atrium-live/atrium/pkg/sigroute"
)

var errNotStarted = errors.New("sfu: node not started")

// Locate finds (or places) the node owning room; the router and the RoomService use it.
func (n *node) Locate(ctx context.Context, room string) (string, error) {
	n.mu.Lock()
	p := n.placer
	n.mu.Unlock()
	if p == nil {
		return "", errNotStarted
	}
	return p.Locate(ctx, room)
}

// Owner is the room's current owner without placing it.
func (n *node) Owner(ctx context.Context, room string) (string, error) {
	return n.leases.Owner(ctx, room)
}

func (n *node) directory() directory {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.members
}

// Members lists live members (nil before start).
func (n *node) Members() []cluster.Meta {
	if d := n.directory(); d != nil {
		return d.Members()
	}
	return nil
}

// Member resolves a live member.
func (n *node) Member(id string) (cluster.Meta, bool) {
	if d := n.directory(); d != nil {
		return d.Member(id)
	}
	return cluster.Meta{}, false
}

// Alive reports whether id is a live member.
func (n *node) Alive(id string) bool {
	d := n.directory()
	return d != nil && d.Alive(id)
}

// signalRouter wraps this node's own /rtc (or /rtc/validate) handler: requests for rooms
// another node owns are proxied there (pkg/sigroute).
func (s *Server) signalRouter(local http.Handler) http.Handler {
	return sigroute.New(sigroute.Params{
		Self: s.cfg.NodeID, Keys: s.keys, Locator: s.node, Directory: s.node, Local: local,
		Logger: s.log.With("component", "sigroute"),
		Spill:  s.spill,
		Observe: func(o sigroute.Outcome, d time.Duration) {
			s.metrics.signalRoutes.WithLabelValues(string(o)).Inc()
		},
	})
}

// twirpHandler serves LiveKit's RoomService for the whole cluster (pkg/roomapi): calls for
// rooms this node owns are answered by roomService, others are forwarded to their owner.
func (s *Server) twirpHandler() (string, http.Handler) {
	return roomapi.Handler(roomapi.Params{
		Self: s.cfg.NodeID, Local: &roomService{s: s}, Keys: s.keys,
		Owners: s.node, Locator: s.node, Members: s.node,
		MaxBodyBytes:      s.limits().MaxAPIBodyBytes,
		OnUnauthenticated: func() { s.metrics.signalErrors.WithLabelValues("api_unauthenticated").Inc() },
		OnDenied:          func() { s.metrics.signalErrors.WithLabelValues("api_denied").Inc() },
		OnTooLarge:        func() { s.metrics.signalErrors.WithLabelValues("api_body_too_large").Inc() },
	})
}
