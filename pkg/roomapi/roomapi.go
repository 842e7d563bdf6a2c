// Package roomapi serves LiveKit's Twirp RoomService (/twirp/livekit.RoomService/...) for a
// whole cluster from any SFU node or gateway: each call is verified, then answered by the
// local node when it owns the room, or forwarded (same token, same request) to the node that
// does. ListRooms asks every serving SFU node and merges the answers. Grants are checked by
// the node that answers, so a gateway needs no policy of its own.
package roomapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/sigroute"
)

// ScopeHeader set to "node" asks a node to answer ListRooms for its own rooms only (the
// fan-out uses it so a forwarded ListRooms does not fan out again).
const ScopeHeader = "X-Atrium-Scope"

// DefaultMaxBodyBytes caps a request body: LiveKit's RoomService requests are small (SendData
// carries at most a data packet).
const DefaultMaxBodyBytes = 1 << 20

// Owners says which node owns a room without placing it ("" when nobody does).
type Owners interface {
	Owner(ctx context.Context, room string) (string, error)
}

// Members lists the cluster's live members and resolves one.
type Members interface {
	Members() []cluster.Meta
	Member(id string) (cluster.Meta, bool)
}

// Params configure the routed RoomService. Keys, Owners, Locator and Members are required.
type Params struct {
	Self    string              // this node's id; "" on a gateway
	Local   livekit.RoomService // this node's own rooms; nil on a gateway
	Keys    access.Keys         // verify tokens before reading a body
	Owners  Owners              // who owns a room
	Locator sigroute.Locator    // places a room for CreateRoom
	Members Members             // where owners are
	Client  *http.Client        // forwards calls; nil = a client with a 10 s timeout
	// MaxBodyBytes caps request bodies; 0 means DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// OnUnauthenticated, OnDenied and OnTooLarge are told of each refused token, token
	// without a room-API grant and oversized body (metrics); each may be nil.
	OnUnauthenticated func()
	OnDenied          func()
	OnTooLarge        func()
}

type ctxKey int

const (
	grantsKey ctxKey = iota
	authKey
	hopsKey
	scopeKey
)

// WithGrants stores verified grants in ctx.
func WithGrants(ctx context.Context, g *auth.ClaimGrants) context.Context {
	return context.WithValue(ctx, grantsKey, g)
}

// Grants returns the verified grants of the call, or empty grants.
func Grants(ctx context.Context) *auth.VideoGrant {
	if g, ok := ctx.Value(grantsKey).(*auth.ClaimGrants); ok && g.Video != nil {
		return g.Video
	}
	return &auth.VideoGrant{}
}

// Handler returns the Twirp path prefix and the handler serving it.
func Handler(p Params) (string, http.Handler) {
	if p.MaxBodyBytes <= 0 {
		p.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if p.Client == nil {
		p.Client = &http.Client{Timeout: 10 * time.Second}
	}
	rs := &router{p: p, clients: map[string]livekit.RoomService{}}
	ts := livekit.NewRoomServiceServer(rs)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Authenticate before reading a byte of the body, then cap what may be read.
		grants, err := access.Verify(access.TokenFromRequest(r), p.Keys)
		if err != nil {
			if p.OnUnauthenticated != nil {
				p.OnUnauthenticated()
			}
			_ = twirp.WriteError(w, twirp.NewError(twirp.Unauthenticated, err.Error()))
			return
		}
		// A participant's join token holds no room-API grant: refuse it before reading a
		// byte of the body (each call's exact grant is checked when it is decoded).
		if v := grants.Video; v == nil || !(v.RoomAdmin || v.RoomList || v.RoomCreate || v.RoomRecord) {
			if p.OnDenied != nil {
				p.OnDenied()
			}
			_ = twirp.WriteError(w, errDenied)
			return
		}
		if r.ContentLength > p.MaxBodyBytes {
			if p.OnTooLarge != nil {
				p.OnTooLarge()
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			fmt.Fprintf(w, "{\"code\":\"resource_exhausted\",\"msg\":\"request body over %d bytes\"}\n", p.MaxBodyBytes)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, p.MaxBodyBytes)
		ctx := WithGrants(r.Context(), grants)
		ctx = context.WithValue(ctx, authKey, r.Header.Get("Authorization"))
		hops, _ := strconv.Atoi(r.Header.Get(sigroute.HopHeader))
		ctx = context.WithValue(ctx, hopsKey, hops)
		ctx = context.WithValue(ctx, scopeKey, r.Header.Get(ScopeHeader))
		ts.ServeHTTP(w, r.WithContext(ctx))
	})
	return ts.PathPrefix(), h
}

// router implements livekit.RoomService by choosing, per call, the local service or a
// client of the owner node.
type router struct {
	p       Params
	mu      sync.Mutex
	clients map[string]livekit.RoomService // by signal URL
}

var errNoRoom = twirp.NewError(twirp.NotFound, "room not found")

// forOwner returns the service that must answer for node id, and a ctx carrying the
// caller's credentials when it is remote.
func (rs *router) forOwner(ctx context.Context, owner string) (livekit.RoomService, context.Context, error) {
	if owner == rs.p.Self && rs.p.Local != nil {
		return rs.p.Local, ctx, nil
	}
	hops, _ := ctx.Value(hopsKey).(int)
	if hops >= sigroute.MaxHops {
		return nil, ctx, twirp.NewError(twirp.Unavailable, "room is moving, retry")
	}
	m, ok := rs.p.Members.Member(owner)
	if !ok {
		return nil, ctx, twirp.NewError(twirp.Unavailable, fmt.Sprintf("owner %s is not a live member", owner))
	}
	h := http.Header{}
	if a, _ := ctx.Value(authKey).(string); a != "" {
		h.Set("Authorization", a)
	}
	h.Set(sigroute.HopHeader, strconv.Itoa(hops+1))
	if s, _ := ctx.Value(scopeKey).(string); s != "" {
		h.Set(ScopeHeader, s)
	}
	fctx, err := twirp.WithHTTPRequestHeaders(ctx, h)
	if err != nil {
		return nil, ctx, fmt.Errorf("roomapi: forward headers: %w", err)
	}
	return rs.client(m.SignalURL), fctx, nil
}

func (rs *router) client(url string) livekit.RoomService {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	c, ok := rs.clients[url]
	if !ok {
		c = livekit.NewRoomServiceProtobufClient(url, rs.p.Client)
		rs.clients[url] = c
	}
	return c
}

var errDenied = twirp.NewError(twirp.PermissionDenied, "token lacks the grant this call needs")

// forRoom finds the service answering for an existing room. The caller must hold roomAdmin
// on that room, checked here before the lookup so nobody learns where (or whether) a room
// runs without the right to manage it; the answering node checks again.
func (rs *router) forRoom(ctx context.Context, room string) (livekit.RoomService, context.Context, error) {
	if g := Grants(ctx); !g.RoomAdmin || g.Room != room {
		return nil, ctx, errDenied
	}
	return rs.lookup(ctx, room)
}

func (rs *router) lookup(ctx context.Context, room string) (livekit.RoomService, context.Context, error) {
	if room == "" {
		return nil, ctx, twirp.NewError(twirp.InvalidArgument, "room is required")
	}
	owner, err := rs.p.Owners.Owner(ctx, room)
	if err != nil {
		return nil, ctx, twirp.NewError(twirp.Unavailable, "room directory unavailable: "+err.Error())
	}
	if owner == "" {
		return nil, ctx, errNoRoom
	}
	return rs.forOwner(ctx, owner)
}

func (rs *router) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	if !Grants(ctx).RoomCreate {
		return nil, errDenied
	}
	if req.Name == "" {
		return nil, twirp.NewError(twirp.InvalidArgument, "room name is required")
	}
	owner, err := rs.p.Locator.Locate(ctx, req.Name)
	if err != nil {
		return nil, twirp.NewError(twirp.Unavailable, "cannot place room: "+err.Error())
	}
	svc, fctx, err := rs.forOwner(ctx, owner)
	if err != nil {
		return nil, err
	}
	return svc.CreateRoom(fctx, req)
}

// ListRooms merges every serving SFU node's answer (or this node's alone when asked with
// ScopeHeader: node).
func (rs *router) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	if s, _ := ctx.Value(scopeKey).(string); s == "node" {
		if rs.p.Local == nil {
			return &livekit.ListRoomsResponse{}, nil
		}
		return rs.p.Local.ListRooms(ctx, req)
	}
	if !Grants(ctx).RoomList {
		return nil, errDenied
	}
	ctx = context.WithValue(ctx, scopeKey, "node")
	var (
		mu    sync.Mutex
		out   = &livekit.ListRoomsResponse{}
		first error
		wg    sync.WaitGroup
	)
	for _, m := range rs.p.Members.Members() {
		if m.Role != cluster.RoleSFU {
			continue
		}
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			svc, fctx, err := rs.forOwner(ctx, id)
			var res *livekit.ListRoomsResponse
			if err == nil {
				res, err = svc.ListRooms(fctx, req)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("node %s: %w", id, err)
				}
				return
			}
			out.Rooms = append(out.Rooms, res.Rooms...)
		}(m.NodeID)
	}
	wg.Wait()
	var te twirp.Error
	if first != nil && errors.As(first, &te) && te.Code() == twirp.PermissionDenied {
		return nil, te
	}
	return out, nil
}

func (rs *router) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	if !Grants(ctx).RoomCreate {
		return nil, errDenied
	}
	svc, fctx, err := rs.lookup(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.DeleteRoom(fctx, req)
}

func (rs *router) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.ListParticipants(fctx, req)
}

func (rs *router) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.GetParticipant(fctx, req)
}

func (rs *router) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.RemoveParticipant(fctx, req)
}

func (rs *router) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.MutePublishedTrack(fctx, req)
}

func (rs *router) UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.UpdateParticipant(fctx, req)
}

func (rs *router) UpdateSubscriptions(ctx context.Context, req *livekit.UpdateSubscriptionsRequest) (*livekit.UpdateSubscriptionsResponse, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.UpdateSubscriptions(fctx, req)
}

func (rs *router) SendData(ctx context.Context, req *livekit.SendDataRequest) (*livekit.SendDataResponse, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.SendData(fctx, req)
}

func (rs *router) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.UpdateRoomMetadata(fctx, req)
}

func (rs *router) ForwardParticipant(ctx context.Context, req *livekit.ForwardParticipantRequest) (*livekit.ForwardParticipantResponse, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.ForwardParticipant(fctx, req)
}

func (rs *router) MoveParticipant(ctx context.Context, req *livekit.MoveParticipantRequest) (*livekit.MoveParticipantResponse, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.MoveParticipant(fctx, req)
}

func (rs *router) PerformRpc(ctx context.Context, req *livekit.PerformRpcRequest) (*livekit.PerformRpcResponse, error) {
	svc, fctx, err := rs.forRoom(ctx, req.Room)
	if err != nil {
		return nil, err
	}
	return svc.PerformRpc(fctx, req)
}
