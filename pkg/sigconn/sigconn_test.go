package sigconn

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/proto"
)

// serve runs handle on the server side of a real WebSocket and returns the client side.
func serve(t *testing.T, opts Options, handle func(*Conn)) *websocket.Conn {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		c, err := Upgrade(w, r, opts)
		if err != nil {
			t.Errorf("Upgrade: %v", err)
			return
		}
		handle(c)
	}))
	t.Cleanup(func() { <-done; srv.Close() })
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { ws.Close() })
	return ws
}

func TestBinaryAndJSON(t *testing.T) {
	got := make(chan *livekit.SignalRequest, 2)
	ws := serve(t, Options{}, func(c *Conn) {
		for i := 0; i < 2; i++ {
			req, err := c.Read()
			if err != nil {
				t.Errorf("Read: %v", err)
				return
			}
			got <- req
			if err := c.Write(&livekit.SignalResponse{Message: &livekit.SignalResponse_Pong{Pong: req.GetPing()}}); err != nil {
				t.Errorf("Write: %v", err)
			}
		}
		c.Close(websocket.CloseNormalClosure, "")
	})
	b, _ := proto.Marshal(&livekit.SignalRequest{Message: &livekit.SignalRequest_Ping{Ping: 7}})
	ws.WriteMessage(websocket.BinaryMessage, b)
	mt, data, err := ws.ReadMessage()
	res := &livekit.SignalResponse{}
	if err != nil || mt != websocket.BinaryMessage || proto.Unmarshal(data, res) != nil || res.GetPong() != 7 {
		t.Fatalf("binary ping: got type %d pong %v err %v, want binary pong 7", mt, res, err)
	}
	ws.WriteMessage(websocket.TextMessage, []byte(`{"ping":"9"}`))
	mt, data, err = ws.ReadMessage()
	if err != nil || mt != websocket.TextMessage || !strings.Contains(string(data), `"pong":"9"`) {
		t.Fatalf("JSON ping: got type %d %q err %v, want a text pong 9", mt, data, err)
	}
	if r := <-got; r.GetPing() != 7 {
		t.Errorf("first request = %v, want ping 7", r)
	}
	if r := <-got; r.GetPing() != 9 {
		t.Errorf("second request = %v, want ping 9", r)
	}
}

func TestBadFrames(t *testing.T) {
	tests := []struct {
		name     string
		mt       int
		data     []byte
		wantCode int
		wantErr  error
	}{
		{"garbage protobuf", websocket.BinaryMessage, []byte{0xff, 0xff, 0xff}, websocket.CloseInvalidFramePayloadData, ErrMalformed},
		{"garbage JSON", websocket.TextMessage, []byte(`{"offer":`), websocket.CloseInvalidFramePayloadData, ErrMalformed},
		{"oversized", websocket.BinaryMessage, bytes.Repeat([]byte{1}, 70<<10), websocket.CloseMessageTooBig, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			errs := make(chan error, 1)
			ws := serve(t, Options{MaxMessageBytes: 64 << 10}, func(c *Conn) {
				_, err := c.Read()
				errs <- err
			})
			ws.WriteMessage(tc.mt, tc.data)
			_, _, err := ws.ReadMessage()
			var ce *websocket.CloseError
			if !errors.As(err, &ce) || ce.Code != tc.wantCode {
				t.Errorf("client read err = %v, want close code %d", err, tc.wantCode)
			}
			if serr := <-errs; serr == nil || (tc.wantErr != nil && !errors.Is(serr, tc.wantErr)) {
				t.Errorf("server Read err = %v, want %v", serr, tc.wantErr)
			}
		})
	}
}

func TestUnknownTypeIsNotAnError(t *testing.T) {
	got := make(chan *livekit.SignalRequest, 1)
	ws := serve(t, Options{}, func(c *Conn) {
		req, err := c.Read()
		if err != nil {
			t.Errorf("Read: %v", err)
		}
		got <- req
	})
	ws.WriteMessage(websocket.BinaryMessage, []byte{0xb8, 0x3e, 0x01}) // field 999
	if r := <-got; r == nil || r.Message != nil {
		t.Errorf("unknown type decoded to %v, want a request with no message", r)
	}
}
