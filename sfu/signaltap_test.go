package sfu_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"google.golang.org/protobuf/proto"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// signalTap sits between a real SDK and the server: it relays the signal WebSocket
// unchanged and records every SignalResponse the server sends, so a test can see messages
// that server-sdk-go handles without a callback (subscribed_quality_update) or ignores
// (stream_state_update). Other HTTP requests (/rtc/validate) are proxied as they are.
type signalTap struct {
	t        *testing.T
	upstream string // host:port of the server
	web      *httptest.Server

	mu    sync.Mutex
	got   []*livekit.SignalResponse
	conns []*websocket.Conn
	wg    sync.WaitGroup
}

func newSignalTap(t *testing.T, srv *sfutest.Server) *signalTap {
	t.Helper()
	s := &signalTap{t: t, upstream: srv.Addr().String()}
	s.web = httptest.NewServer(s) // 127.0.0.1, port 0
	t.Cleanup(func() {
		s.mu.Lock()
		for _, c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
		s.web.Close()
	})
	return s
}

// join connects a server-sdk-go client through the tap.
func (s *signalTap) join(srv *sfutest.Server, room, identity string, cb *lksdk.RoomCallback) *lksdk.Room {
	s.t.Helper()
	if cb == nil {
		cb = &lksdk.RoomCallback{}
	}
	r, err := lksdk.ConnectToRoomWithToken("ws://"+s.web.Listener.Addr().String(), srv.Token(room, identity), cb,
		lksdk.WithAutoSubscribe(true), lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(10*time.Second))
	if err != nil {
		s.t.Fatalf("join %s/%s through the tap: %v", room, identity, err)
	}
	s.t.Cleanup(r.Disconnect)
	return r
}

func (s *signalTap) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !websocket.IsWebSocketUpgrade(r) {
		httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http", Host: s.upstream}).ServeHTTP(w, r)
		return
	}
	hdr := http.Header{}
	if a := r.Header.Get("Authorization"); a != "" {
		hdr.Set("Authorization", a)
	}
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	up, resp, err := d.Dial("ws://"+s.upstream+r.URL.RequestURI(), hdr)
	if err != nil {
		code := http.StatusBadGateway
		if resp != nil {
			code = resp.StatusCode // e.g. 404 for /rtc/v1, so the SDK falls back to /rtc
		}
		http.Error(w, "upstream refused", code)
		return
	}
	u := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	down, err := u.Upgrade(w, r, nil)
	if err != nil {
		up.Close()
		return
	}
	s.mu.Lock()
	s.conns = append(s.conns, up, down)
	s.wg.Add(2)
	s.mu.Unlock()
	go s.pump(down, up, nil)
	go s.pump(up, down, s.record)
}

// pump copies messages from src to dst until either fails, then closes both.
func (s *signalTap) pump(src, dst *websocket.Conn, seen func(int, []byte)) {
	defer s.wg.Done()
	defer src.Close()
	defer dst.Close()
	for {
		mt, data, err := src.ReadMessage()
		if err != nil {
			return
		}
		if seen != nil {
			seen(mt, data)
		}
		if err := dst.WriteMessage(mt, data); err != nil {
			return
		}
	}
}

func (s *signalTap) record(mt int, data []byte) {
	if mt != websocket.BinaryMessage {
		return
	}
	res := &livekit.SignalResponse{}
	if proto.Unmarshal(data, res) != nil {
		return
	}
	s.mu.Lock()
	s.got = append(s.got, res)
	s.mu.Unlock()
}

// mark returns a position in the recorded responses for waitFrom.
func (s *signalTap) mark() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.got)
}

// waitFrom returns the first response at or after position from that matches, failing the
// test after timeout.
func (s *signalTap) waitFrom(from int, timeout time.Duration, what string, match func(*livekit.SignalResponse) bool) *livekit.SignalResponse {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s.mu.Lock()
		for _, r := range s.got[min(from, len(s.got)):] {
			if match(r) {
				s.mu.Unlock()
				return r
			}
		}
		s.mu.Unlock()
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// all returns the responses recorded from position from that match.
func (s *signalTap) all(from int, match func(*livekit.SignalResponse) bool) []*livekit.SignalResponse {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*livekit.SignalResponse
	for _, r := range s.got[min(from, len(s.got)):] {
		if match(r) {
			out = append(out, r)
		}
	}
	return out
}
