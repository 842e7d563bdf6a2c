package bench

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/auth"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// JoinProbe is one signal-only join: the time from the WebSocket dial to the join
// response, and the node the response named.
type JoinProbe struct {
	JoinResponse time.Duration
	NodeID       string
}

// ProbeJoin measures the signal path alone: it dials serverURL's /rtc with token, reads
// until the JoinResponse, then leaves at once (a LeaveRequest, then waits for the server to
// close), so no peer connection is ever set up. The SDK hides when its join response arrives (its join
// returns after ICE), hence this small client of our own.
func ProbeJoin(ctx context.Context, serverURL, token string) (JoinProbe, error) {
	base, err := wsBase(serverURL)
	if err != nil {
		return JoinProbe{}, err
	}
	q := url.Values{"access_token": {token}, "auto_subscribe": {"0"}, "sdk": {"go"}, "protocol": {"15"}}
	start := time.Now()
	ws, resp, err := websocket.DefaultDialer.DialContext(ctx, base+"/rtc?"+q.Encode(), nil)
	if err != nil {
		if resp != nil {
			return JoinProbe{}, fmt.Errorf("probe %s: %w (HTTP %s)", base, err, resp.Status)
		}
		return JoinProbe{}, fmt.Errorf("probe %s: %w", base, err)
	}
	defer ws.Close()
	if d, ok := ctx.Deadline(); ok {
		_ = ws.SetReadDeadline(d)
	}
	for {
		kind, data, err := ws.ReadMessage()
		if err != nil {
			return JoinProbe{}, fmt.Errorf("probe %s: waiting for the join response: %w", base, err)
		}
		if kind != websocket.BinaryMessage {
			continue
		}
		var msg livekit.SignalResponse
		if err := proto.Unmarshal(data, &msg); err != nil {
			return JoinProbe{}, fmt.Errorf("probe %s: signal response: %w", base, err)
		}
		if leave := msg.GetLeave(); leave != nil {
			return JoinProbe{}, fmt.Errorf("probe %s: refused: %s", base, leave.GetReason())
		}
		join := msg.GetJoin()
		if join == nil {
			continue
		}
		p := JoinProbe{JoinResponse: time.Since(start), NodeID: join.GetServerInfo().GetNodeId()}
		bye, err := proto.Marshal(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{
			Reason: livekit.DisconnectReason_CLIENT_INITIATED, Action: livekit.LeaveRequest_DISCONNECT}}})
		if err == nil {
			_ = ws.SetWriteDeadline(time.Now().Add(time.Second))
			if ws.WriteMessage(websocket.BinaryMessage, bye) == nil {
				// Wait (briefly) for the server to close: a socket dropped before the leave
				// got through (a gateway closes upstream when its client goes) leaves the
				// participant waiting for a resume, and counted by its node.
				_ = ws.SetReadDeadline(time.Now().Add(2 * time.Second))
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						break
					}
				}
			}
		}
		return p, nil
	}
}

// probeToken is a token for a probe that neither publishes nor subscribes.
func probeToken(t Target, room, identity string) (string, error) {
	no := false
	tok, err := auth.NewAccessToken(t.APIKey, t.APISecret).SetIdentity(identity).SetValidFor(time.Hour).
		SetVideoGrant(&auth.VideoGrant{RoomJoin: true, Room: room, CanPublish: &no, CanSubscribe: &no,
			CanPublishData: &no}).ToJWT()
	if err != nil {
		return "", fmt.Errorf("bench: probe token: %w", err)
	}
	return tok, nil
}
