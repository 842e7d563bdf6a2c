package recordings

import (
	"context"
	"fmt"
	"net/http"
	"time"

	lkauth "github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"
)

// egressAPI calls the media plane's public Egress Twirp API (LiveKit's, served by every SFU
// node and gateway) with short tokens carrying the roomRecord grant.
type egressAPI struct {
	key, secret string
	cl          livekit.Egress
}

func newEgressAPI(baseURL, key, secret string) *egressAPI {
	return &egressAPI{key: key, secret: secret,
		cl: livekit.NewEgressProtobufClient(baseURL, &http.Client{Timeout: 10 * time.Second})}
}

func (e *egressAPI) authed(ctx context.Context, room string) (context.Context, error) {
	tok, err := lkauth.NewAccessToken(e.key, e.secret).SetValidFor(time.Minute).
		SetVideoGrant(&lkauth.VideoGrant{RoomRecord: true, Room: room}).ToJWT()
	if err != nil {
		return nil, fmt.Errorf("recordings: sign egress token: %w", err)
	}
	return twirp.WithHTTPRequestHeaders(ctx, http.Header{"Authorization": {"Bearer " + tok}})
}

// start asks the recorders to record room as segmented HLS under folder.
func (e *egressAPI) start(ctx context.Context, room, folder string) (*livekit.EgressInfo, error) {
	ctx, err := e.authed(ctx, room)
	if err != nil {
		return nil, err
	}
	info, err := e.cl.StartRoomCompositeEgress(ctx, &livekit.RoomCompositeEgressRequest{RoomName: room,
		SegmentOutputs: []*livekit.SegmentedFileOutput{{FilenamePrefix: folder, PlaylistName: "index.m3u8"}}})
	if err != nil {
		return nil, fmt.Errorf("recordings: start egress for %s: %w", room, err)
	}
	return info, nil
}

// stop asks the recorder of egressID to finish.
func (e *egressAPI) stop(ctx context.Context, room, egressID string) (*livekit.EgressInfo, error) {
	ctx, err := e.authed(ctx, room)
	if err != nil {
		return nil, err
	}
	info, err := e.cl.StopEgress(ctx, &livekit.StopEgressRequest{EgressId: egressID})
	if err != nil {
		return nil, fmt.Errorf("recordings: stop egress %s: %w", egressID, err)
	}
	return info, nil
}
