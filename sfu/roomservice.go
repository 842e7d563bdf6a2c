package sfu

import (
	"context"
	"errors"
	"slices"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/roomapi"
)

// roomService is LiveKit's Twirp RoomService (/twirp/livekit.RoomService/...) for the rooms
// of this node, so server-sdk-go's RoomServiceClient (and the control plane through it) can
// list, mute, remove and message. Grants are checked as LiveKit does: roomList to list,
// roomCreate to create and delete, roomAdmin on the named room for everything else.
type roomService struct{ s *Server }

func grantsFrom(ctx context.Context) *auth.VideoGrant { return roomapi.Grants(ctx) }

var errDenied = twirp.NewError(twirp.PermissionDenied, "token lacks the grant this call needs")

// admin checks roomAdmin on room.
func admin(ctx context.Context, room string) error {
	g := grantsFrom(ctx)
	if !g.RoomAdmin || g.Room != room || room == "" {
		return errDenied
	}
	return nil
}

func notFound(err error) error {
	if errors.Is(err, ErrNotFound) {
		return twirp.NewError(twirp.NotFound, err.Error())
	}
	return err
}

func (rs *roomService) CreateRoom(ctx context.Context, req *livekit.CreateRoomRequest) (*livekit.Room, error) {
	if !grantsFrom(ctx).RoomCreate {
		return nil, errDenied
	}
	if err := rs.s.limits().checkRoomMetadata(req.Metadata); err != nil {
		return nil, twirp.NewError(twirp.InvalidArgument, err.Error())
	}
	opts, err := rs.s.roomOptionsFromCreate(req)
	if err != nil {
		return nil, twirp.NewError(twirp.InvalidArgument, err.Error())
	}
	r, err := rs.s.rooms.getOrCreate(req.Name, opts)
	if err != nil {
		return nil, twirp.NewError(twirp.Unavailable, err.Error())
	}
	if req.Metadata != "" {
		r.setMetadata(req.Metadata)
	}
	return r.info(), nil
}

func (rs *roomService) ListRooms(ctx context.Context, req *livekit.ListRoomsRequest) (*livekit.ListRoomsResponse, error) {
	if !grantsFrom(ctx).RoomList {
		return nil, errDenied
	}
	res := &livekit.ListRoomsResponse{}
	for _, r := range rs.s.rooms.all() {
		if len(req.Names) == 0 || slices.Contains(req.Names, r.name) {
			res.Rooms = append(res.Rooms, r.info())
		}
	}
	return res, nil
}

func (rs *roomService) DeleteRoom(ctx context.Context, req *livekit.DeleteRoomRequest) (*livekit.DeleteRoomResponse, error) {
	if !grantsFrom(ctx).RoomCreate {
		return nil, errDenied
	}
	if err := rs.s.CloseRoom(req.Room); err != nil {
		return nil, notFound(err)
	}
	return &livekit.DeleteRoomResponse{}, nil
}

func (rs *roomService) ListParticipants(ctx context.Context, req *livekit.ListParticipantsRequest) (*livekit.ListParticipantsResponse, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	r := rs.s.rooms.get(req.Room)
	if r == nil {
		return nil, twirp.NewError(twirp.NotFound, "room not found")
	}
	res := &livekit.ListParticipantsResponse{}
	for _, p := range r.snapshot() {
		res.Participants = append(res.Participants, p.info())
	}
	// And the room's participants on relay nodes (docs/relay.md).
	res.Participants = append(res.Participants, r.span.remoteInfos("")...)
	return res, nil
}

func (rs *roomService) GetParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.ParticipantInfo, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	p, err := rs.s.findParticipant(req.Room, req.Identity)
	if err != nil {
		return nil, notFound(err)
	}
	return p.info(), nil
}

func (rs *roomService) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	if err := rs.s.RemoveParticipant(req.Room, req.Identity); err != nil {
		return nil, notFound(err)
	}
	return &livekit.RemoveParticipantResponse{}, nil
}

func (rs *roomService) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	if err := rs.s.MuteTrack(req.Room, req.Identity, req.TrackSid, req.Muted); err != nil {
		return nil, notFound(err)
	}
	p, err := rs.s.findParticipant(req.Room, req.Identity)
	if err != nil {
		return nil, notFound(err)
	}
	res := &livekit.MuteRoomTrackResponse{}
	if t := p.publishedTrack(req.TrackSid); t != nil {
		res.Track = t.infoClone()
	}
	return res, nil
}

// UpdateParticipant changes name, metadata and attributes. Permission changes are refused:
// grants are fixed for a connection's lifetime on this node.
func (rs *roomService) UpdateParticipant(ctx context.Context, req *livekit.UpdateParticipantRequest) (*livekit.ParticipantInfo, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	if req.Permission != nil {
		return nil, twirp.NewError(twirp.Unimplemented, "changing permissions of a connected participant is not supported")
	}
	p, err := rs.s.findParticipant(req.Room, req.Identity)
	if err != nil {
		return nil, notFound(err)
	}
	if err := p.applyUpdate(req.Name, req.Metadata, req.Attributes); err != nil {
		return nil, twirp.NewError(twirp.InvalidArgument, err.Error())
	}
	p.changed()
	info := p.info()
	p.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_Update{Update: &livekit.ParticipantUpdate{
		Participants: []*livekit.ParticipantInfo{proto.Clone(info).(*livekit.ParticipantInfo)},
	}}})
	return info, nil
}

func (rs *roomService) UpdateSubscriptions(ctx context.Context, req *livekit.UpdateSubscriptionsRequest) (*livekit.UpdateSubscriptionsResponse, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	p, err := rs.s.findParticipant(req.Room, req.Identity)
	if err != nil {
		return nil, notFound(err)
	}
	p.handleSubscription(&livekit.UpdateSubscription{TrackSids: req.TrackSids, Subscribe: req.Subscribe, ParticipantTracks: req.ParticipantTracks})
	return &livekit.UpdateSubscriptionsResponse{}, nil
}

// SendData sends a user packet from the server (no sender identity) to the destinations,
// or to everyone in the room.
func (rs *roomService) SendData(ctx context.Context, req *livekit.SendDataRequest) (*livekit.SendDataResponse, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	r := rs.s.rooms.get(req.Room)
	if r == nil {
		return nil, twirp.NewError(twirp.NotFound, "room not found")
	}
	if len(req.Data) > maxDataBytes {
		return nil, twirp.NewError(twirp.InvalidArgument, "data too large")
	}
	pkt := &livekit.DataPacket{Kind: req.Kind, DestinationIdentities: req.DestinationIdentities,
		Value: &livekit.DataPacket_User{User: &livekit.UserPacket{Payload: req.Data, Topic: req.Topic, Nonce: req.Nonce}}}
	raw, err := proto.Marshal(pkt)
	if err != nil {
		return nil, err
	}
	label := reliableLabel
	if req.Kind == livekit.DataPacket_LOSSY {
		label = lossyLabel
	}
	for _, p := range r.snapshot() {
		if (len(req.DestinationIdentities) > 0 || len(req.DestinationSids) > 0) &&
			!slices.Contains(req.DestinationIdentities, p.identity) && !slices.Contains(req.DestinationSids, p.sid) {
			continue
		}
		p.sendData(label, raw)
	}
	if len(req.DestinationSids) == 0 {
		r.span.forwardData(label, raw, req.DestinationIdentities, "")
	}
	return &livekit.SendDataResponse{}, nil
}

func (rs *roomService) UpdateRoomMetadata(ctx context.Context, req *livekit.UpdateRoomMetadataRequest) (*livekit.Room, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	r := rs.s.rooms.get(req.Room)
	if r == nil {
		return nil, twirp.NewError(twirp.NotFound, "room not found")
	}
	if err := rs.s.limits().checkRoomMetadata(req.Metadata); err != nil {
		return nil, twirp.NewError(twirp.InvalidArgument, err.Error())
	}
	r.setMetadata(req.Metadata)
	r.broadcastRoomUpdate()
	r.span.forwardRoomMetadata(req.Metadata)
	return r.info(), nil
}

func (rs *roomService) ForwardParticipant(context.Context, *livekit.ForwardParticipantRequest) (*livekit.ForwardParticipantResponse, error) {
	return nil, twirp.NewError(twirp.Unimplemented, "ForwardParticipant is not supported")
}

func (rs *roomService) MoveParticipant(context.Context, *livekit.MoveParticipantRequest) (*livekit.MoveParticipantResponse, error) {
	return nil, twirp.NewError(twirp.Unimplemented, "MoveParticipant is not supported")
}

func (rs *roomService) PerformRpc(context.Context, *livekit.PerformRpcRequest) (*livekit.PerformRpcResponse, error) {
	return nil, twirp.NewError(twirp.Unimplemented, "PerformRpc is not supported")
}
