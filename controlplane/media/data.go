package media

import (
	"context"
	"errors"
	"fmt"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

// SendData delivers payload to the class room as a reliable LiveKit data message on topic,
// sent by the server (no sender identity), through the SFU's RoomService. to lists the
// identities (user ids) to deliver to; empty means everyone in the room. A room that does
// not exist (nobody is in it) is success: there is nobody to tell, and clients load what
// they missed from the API when they join.
func (s *Service) SendData(ctx context.Context, classID, topic string, payload []byte, to []string) error {
	topicCopy := topic
	_, err := s.roomService().SendData(ctx, &livekit.SendDataRequest{Room: classID, Data: payload, Kind: livekit.DataPacket_RELIABLE,
		Topic: &topicCopy, DestinationIdentities: to})
	var te twirp.Error
	if err == nil || errors.As(err, &te) && te.Code() == twirp.NotFound {
		return nil
	}
	return fmt.Errorf("media: send %s data to %s: %w", topic, classID, err)
}
