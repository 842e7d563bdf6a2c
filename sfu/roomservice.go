package sfu

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/pkg/relaywire"
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
		if r := rs.s.rooms.get(req.Room); r != nil {
			if info := r.span.remoteInfo(req.Identity); info != nil {
				return info, nil // on a relay node
			}
		}
		return nil, notFound(err)
	}
	return p.info(), nil
}

func (rs *roomService) RemoveParticipant(ctx context.Context, req *livekit.RoomParticipantIdentity) (*livekit.RemoveParticipantResponse, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	if err := rs.s.RemoveParticipant(req.Room, req.Identity); err != nil {
		_, ok, ferr := rs.s.relayAdmin(req.Room, req.Identity, &relaywire.Control{Action: relaywire.ActionRemove})
		if !ok {
			return nil, notFound(err)
		}
		if ferr != nil {
			return nil, twirp.NewError(twirp.Unavailable, ferr.Error())
		}
	}
	return &livekit.RemoveParticipantResponse{}, nil
}

func (rs *roomService) MutePublishedTrack(ctx context.Context, req *livekit.MuteRoomTrackRequest) (*livekit.MuteRoomTrackResponse, error) {
	if err := admin(ctx, req.Room); err != nil {
		return nil, err
	}
	if err := rs.s.MuteTrack(req.Room, req.Identity, req.TrackSid, req.Muted); err != nil {
		return rs.muteRemote(req, err)
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
	info, err := rs.s.updateParticipant(req.Room, req.Identity, req.Name, req.Metadata, req.Attributes)
	switch {
	case errors.Is(err, errInvalidUpdate):
		return nil, twirp.NewError(twirp.InvalidArgument, err.Error())
	case err != nil:
		return rs.updateRemote(req, err)
	}
	return info, nil
}

// muteRemote mutes a track of a participant on a relay node (local is the error of the
// local attempt, returned when the participant is on no relay node either). The answer
// is the track as it will be once the relay node applied it.
func (rs *roomService) muteRemote(req *livekit.MuteRoomTrackRequest, local error) (*livekit.MuteRoomTrackResponse, error) {
	r := rs.s.rooms.get(req.Room)
	if r == nil {
		return nil, notFound(local)
	}
	info := r.span.remoteInfo(req.Identity)
	if info == nil {
		return nil, notFound(local)
	}
	var track *livekit.TrackInfo
	for _, ti := range info.Tracks {
		if ti.Sid == req.TrackSid {
			track = proto.Clone(ti).(*livekit.TrackInfo)
		}
	}
	if track == nil {
		return nil, twirp.NewError(twirp.NotFound, fmt.Sprintf("track %q of %q not found", req.TrackSid, req.Identity))
	}
	if _, _, err := r.span.remoteAdmin(req.Identity, &relaywire.Control{Action: relaywire.ActionMute, Track: req.TrackSid, Muted: req.Muted}); err != nil {
		return nil, twirp.NewError(twirp.Unavailable, err.Error())
	}
	track.Muted = req.Muted
	return &livekit.MuteRoomTrackResponse{Track: track}, nil
}

// updateRemote updates a participant on a relay node: checked against the limits here
// (so a bad request gets its error now), applied there. The answer is the participant as
// it will be.
func (rs *roomService) updateRemote(req *livekit.UpdateParticipantRequest, local error) (*livekit.ParticipantInfo, error) {
	r := rs.s.rooms.get(req.Room)
	if r == nil {
		return nil, notFound(local)
	}
	info := r.span.remoteInfo(req.Identity)
	if info == nil {
		return nil, notFound(local)
	}
	if req.Name != "" {
		info.Name = req.Name
	}
	if req.Metadata != "" {
		info.Metadata = req.Metadata
	}
	if len(req.Attributes) > 0 {
		info.Attributes = mergeAttributes(info.Attributes, req.Attributes)
	}
	l := rs.s.limits()
	if n := attributesSize(req.Attributes); n > l.MaxAttributesBytes {
		return nil, twirp.NewError(twirp.InvalidArgument, fmt.Sprintf("attribute update is %d bytes, more than %d", n, l.MaxAttributesBytes))
	}
	if err := l.checkParticipantUpdate(info.Name, info.Metadata, info.Attributes); err != nil {
		return nil, twirp.NewError(twirp.InvalidArgument, err.Error())
	}
	raw, err := proto.Marshal(&livekit.UpdateParticipantRequest{Name: req.Name, Metadata: req.Metadata, Attributes: req.Attributes})
	if err != nil {
		return nil, err
	}
	if _, _, err := r.span.remoteAdmin(req.Identity, &relaywire.Control{Action: relaywire.ActionUpdate, Update: raw}); err != nil {
		return nil, twirp.NewError(twirp.Unavailable, err.Error())
	}
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
