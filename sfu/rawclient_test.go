package sfu_test

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// rawClient is a bare /rtc WebSocket client for feeding the server bad input.
type rawClient struct {
	t    *testing.T
	ws   *websocket.Conn
	wmu  sync.Mutex // gorilla allows one writer at a time
	join *livekit.JoinResponse
}

// dialRaw opens /rtc with token; it returns the HTTP status when the upgrade is refused.
func dialRaw(t *testing.T, srv *sfutest.Server, token string) (*rawClient, int, error) {
	t.Helper()
	u := fmt.Sprintf("%s/rtc?access_token=%s&protocol=15&sdk=go&auto_subscribe=1", srv.URL(), token)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, resp, err := d.Dial(u, nil)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, status, err
	}
	t.Cleanup(func() { ws.Close() })
	c := &rawClient{t: t, ws: ws}
	res := c.readUntil(5*time.Second, func(r *livekit.SignalResponse) bool { return r.GetJoin() != nil })
	if res == nil {
		return nil, http.StatusSwitchingProtocols, fmt.Errorf("no JoinResponse")
	}
	c.join = res.GetJoin()
	return c, http.StatusSwitchingProtocols, nil
}

func mustDialRaw(t *testing.T, srv *sfutest.Server, room, identity string) *rawClient {
	t.Helper()
	c, status, err := dialRaw(t, srv, srv.Token(room, identity))
	if err != nil {
		t.Fatalf("raw join %s/%s: status %d: %v", room, identity, status, err)
	}
	return c
}

// send writes one request; safe from any goroutine (errors are reported, not fatal).
func (c *rawClient) send(req *livekit.SignalRequest) {
	c.t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		c.t.Errorf("marshal: %v", err)
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		c.t.Errorf("write: %v", err)
	}
}

// readUntil returns the first response matching want, or nil on timeout or close.
func (c *rawClient) readUntil(timeout time.Duration, want func(*livekit.SignalResponse) bool) *livekit.SignalResponse {
	deadline := time.Now().Add(timeout)
	for {
		c.ws.SetReadDeadline(deadline)
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			return nil
		}
		res := &livekit.SignalResponse{}
		if mt == websocket.TextMessage {
			err = protojson.Unmarshal(data, res)
		} else {
			err = proto.Unmarshal(data, res)
		}
		if err == nil && want(res) {
			return res
		}
	}
}

// closeCode waits for the server to close the socket and returns the close code (-1 if the
// socket stayed open until timeout, 0 if it closed without a close frame).
func (c *rawClient) closeCode(timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		c.ws.SetReadDeadline(deadline)
		_, _, err := c.ws.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if ok := asCloseError(err, &ce); ok {
			return ce.Code
		}
		if strings.Contains(err.Error(), "timeout") {
			return -1
		}
		return 0
	}
}

func asCloseError(err error, ce **websocket.CloseError) bool {
	e, ok := err.(*websocket.CloseError)
	if ok {
		*ce = e
	}
	return ok
}

// pingPong proves the connection still works.
func (c *rawClient) pingPong() bool {
	c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Ping{Ping: time.Now().UnixMilli()}})
	return c.readUntil(3*time.Second, func(r *livekit.SignalResponse) bool { return r.GetPong() != 0 }) != nil
}
