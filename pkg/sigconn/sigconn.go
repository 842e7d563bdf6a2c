// Package sigconn frames LiveKit's signal protocol on a WebSocket: protobuf SignalRequest and
// SignalResponse in binary frames, or protojson in text frames for clients that send text.
//
// A Conn has one reader (the participant's signal loop) and any number of writers: writes are
// serialised and bounded by a deadline, so a stalled client cannot block the room that is
// writing to it for longer than WriteTimeout.
package sigconn

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// ErrMalformed wraps a frame that is not a valid SignalRequest. The connection is unusable
// after it: Read closes it with status 1007 (invalid payload data).
var ErrMalformed = errors.New("sigconn: malformed signal request")

// Options tune a connection. The zero value uses the defaults below.
type Options struct {
	// MaxMessageBytes bounds one incoming frame; larger frames close the connection with
	// status 1009. Default 1 MiB (an SDP offer with many simulcast tracks stays well under).
	MaxMessageBytes int64
	// WriteTimeout bounds one outgoing write. Default 5 s.
	WriteTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = 1 << 20
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 5 * time.Second
	}
	return o
}

// Conn is one signal connection. Read must be called from one goroutine; Write and Close are
// safe for concurrent use.
type Conn struct {
	ws      *websocket.Conn
	opts    Options
	useJSON atomic.Bool // set once the client sends a text frame
	wmu     sync.Mutex
	closed  atomic.Bool
}

var upgrader = websocket.Upgrader{
	ReadBufferSize:  4096,
	WriteBufferSize: 4096,
	// Browsers connect from any page origin; authorisation is the access token, not the origin.
	CheckOrigin: func(*http.Request) bool { return true },
}

// Upgrade turns an HTTP request into a signal connection. On failure the upgrader has already
// answered the request.
func Upgrade(w http.ResponseWriter, r *http.Request, opts Options) (*Conn, error) {
	ws, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil, fmt.Errorf("sigconn: upgrade: %w", err)
	}
	return New(ws, opts), nil
}

// New wraps an established WebSocket.
func New(ws *websocket.Conn, opts Options) *Conn {
	opts = opts.withDefaults()
	ws.SetReadLimit(opts.MaxMessageBytes)
	return &Conn{ws: ws, opts: opts}
}

// Read returns the next request. Unknown message types decode to a request whose Message is
// nil (callers ignore those, for forward compatibility). A frame that does not decode returns
// an error wrapping ErrMalformed after closing the connection with 1007; an oversized frame
// returns gorilla's read-limit error after it closed the connection with 1009.
func (c *Conn) Read() (*livekit.SignalRequest, error) {
	for {
		mt, data, err := c.ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("sigconn: read: %w", err)
		}
		if mt != websocket.BinaryMessage && mt != websocket.TextMessage {
			continue
		}
		if mt == websocket.TextMessage {
			c.useJSON.Store(true)
		}
		req, err := decodeFrame(mt == websocket.BinaryMessage, data)
		if err != nil {
			c.Close(websocket.CloseInvalidFramePayloadData, "malformed signal request")
			return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
		}
		return req, nil
	}
}

// decodeFrame decodes one signal frame: protobuf when binary, protojson (unknown fields
// ignored) when text. It is the whole of the parsing a client's frame goes through.
func decodeFrame(binary bool, data []byte) (*livekit.SignalRequest, error) {
	req := &livekit.SignalRequest{}
	if binary {
		return req, proto.Unmarshal(data, req)
	}
	return req, protojson.UnmarshalOptions{DiscardUnknown: true}.Unmarshal(data, req)
}

// Write sends one response in the encoding the client uses.
func (c *Conn) Write(res *livekit.SignalResponse) error {
	var (
		data []byte
		mt   = websocket.BinaryMessage
		err  error
	)
	if c.useJSON.Load() {
		mt = websocket.TextMessage
		data, err = protojson.Marshal(res)
	} else {
		data, err = proto.Marshal(res)
	}
	if err != nil {
		return fmt.Errorf("sigconn: encode: %w", err)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.SetWriteDeadline(time.Now().Add(c.opts.WriteTimeout)); err != nil {
		return fmt.Errorf("sigconn: write: %w", err)
	}
	if err := c.ws.WriteMessage(mt, data); err != nil {
		return fmt.Errorf("sigconn: write: %w", err)
	}
	return nil
}

// Ping sends a WebSocket ping. Every client answers pings at the protocol level (browsers
// and gorilla do it by themselves), so this detects dead peers even for SDKs that never send
// LiveKit's own ping request (server-sdk-go does not).
func (c *Conn) Ping() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.opts.WriteTimeout)); err != nil {
		return fmt.Errorf("sigconn: ping: %w", err)
	}
	return nil
}

// OnPong sets f to run, on the reading goroutine, for every pong received. Call it before
// the first Read.
func (c *Conn) OnPong(f func()) {
	c.ws.SetPongHandler(func(string) error { f(); return nil })
}

// Close sends a close frame with code and reason (best effort) and closes the socket.
// Later calls do nothing.
func (c *Conn) Close(code int, reason string) {
	if c.closed.Swap(true) {
		return
	}
	c.wmu.Lock()
	_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
		time.Now().Add(time.Second))
	c.wmu.Unlock()
	_ = c.ws.Close()
}
