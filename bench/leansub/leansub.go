// Package leansub is a minimal LiveKit subscriber for load testing: real signalling
// (the /rtc WebSocket), real ICE (it answers the server's connectivity checks), real DTLS
// (pion/dtls) and real SRTP (pion/srtp), but no PeerConnection: one UDP socket and one
// goroutine per subscriber read batches of datagrams (recvmmsg) and decrypt them, with no
// interceptors, no jitter buffer and no RTCP sent. A pion PeerConnection costs the tester
// several goroutine hand-offs and allocations per packet; this costs one decryption, so one
// tester core can receive what several hundred subscribers get.
//
// The answer keeps the server's header extensions and feedback types, so the server's
// per-packet work (transport-wide sequence numbers, SRTP) is what it does for real clients;
// only the feedback those clients would send is missing (see bench.FeedbackNone).
package leansub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/dtls/v3"
	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"google.golang.org/protobuf/proto"
)

// Track is one track the subscriber receives. Data is the caller's (set in OnTrack).
type Track struct {
	SID   string // the publisher's track sid (TR_...)
	Video bool
	SSRC  uint32
	Data  any
}

// Params configure one subscriber.
type Params struct {
	URL   string // ws:// or wss:// base URL of the server
	Token string
	Cert  *Certificate // shared by many subscribers; nil: one is generated
	// Hub, if set, carries the subscriber's media on a socket shared with others (loopback
	// servers only); nil: a socket of its own.
	Hub *Hub
	// OnTrack is called once per new track (from the subscriber's signal goroutine),
	// before OnPacket sees its packets.
	OnTrack func(t *Track)
	// OnPacket is called for every decrypted RTP packet (header included) with its
	// arrival time, on the subscriber's receive goroutine; pkt is only valid during the call.
	OnPacket func(t *Track, pkt []byte, at time.Time)
	// OnClose is called once when the server ends the session (reason) or the socket fails.
	OnClose func(reason string)
}

// Subscriber is one connected lean subscriber.
type Subscriber struct {
	p      Params
	ws     *websocket.Conn
	wmu    sync.Mutex
	sock   *net.UDPConn
	local  netip.AddrPort
	ufrag  string
	pwd    string
	NodeID string

	mu         sync.Mutex
	remoteUfr  string
	remotePwd  string
	server     netip.AddrPort // the server's ICE address (its candidate)
	tracks     map[uint32]*Track
	nominated  chan netip.AddrPort
	nominateOK bool

	dec [1500]byte // decrypted packet (handle)
	hdr rtp.Header

	dtlsIn    chan []byte
	dtlsConn  *dtls.Conn
	srtpCtx   atomic.Pointer[srtp.Context]
	trackMap  atomic.Pointer[map[uint32]*Track] // tracks, for the receive loop
	closeOnce sync.Once
	closed    chan struct{}
	wg        sync.WaitGroup
}

// Certificate is the DTLS identity of subscribers (one may serve thousands).
type Certificate struct {
	dtls        dtls.Config
	fingerprint string
}

// Dial joins the room the token grants, answers the subscriber offers, and returns once
// DTLS is up (media may then flow). ctx bounds the join only; Close ends the session.
func Dial(ctx context.Context, p Params) (*Subscriber, error) {
	if p.Cert == nil {
		c, err := NewCertificate()
		if err != nil {
			return nil, err
		}
		p.Cert = c
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return nil, fmt.Errorf("leansub: url: %w", err)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/rtc"
	u.RawQuery = url.Values{"access_token": {p.Token}, "protocol": {"15"}, "sdk": {"go"},
		"auto_subscribe": {"1"}}.Encode()
	d := websocket.Dialer{}
	ws, _, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("leansub: dial: %w", err)
	}
	s := &Subscriber{p: p, ws: ws, tracks: map[uint32]*Track{}, nominated: make(chan netip.AddrPort, 1),
		dtlsIn: make(chan []byte, 16), closed: make(chan struct{})}
	s.ufrag, s.pwd = randomString(8), randomString(24)
	if err := s.openSocket(); err != nil {
		ws.Close()
		return nil, err
	}
	join, err := s.readJoin(ctx)
	if err != nil {
		s.Close()
		return nil, err
	}
	s.NodeID = join.GetServerInfo().GetNodeId()
	ping := time.Duration(join.PingInterval) * time.Second
	if ping <= 0 {
		ping = 10 * time.Second
	}
	s.wg.Add(3)
	go s.signalLoop()
	go s.pingLoop(ping)
	go s.checkLoop()
	if s.sock != nil {
		s.wg.Add(1)
		go s.udpLoop()
	}
	select {
	case addr := <-s.nominated:
		if err := s.handshake(ctx, addr); err != nil {
			s.Close()
			return nil, err
		}
	case <-ctx.Done():
		s.Close()
		return nil, fmt.Errorf("leansub: no ICE nomination: %w", ctx.Err())
	case <-s.closed:
		return nil, errors.New("leansub: closed while joining")
	}
	return s, nil
}

func (s *Subscriber) openSocket() error {
	// Our candidate's address: the one the signal connection leaves from, so the server
	// can reach it the same way.
	ip := netip.MustParseAddr("127.0.0.1")
	if ta, ok := s.ws.LocalAddr().(*net.TCPAddr); ok {
		if a, ok := netip.AddrFromSlice(ta.IP); ok {
			ip = a.Unmap()
		}
	}
	if s.p.Hub != nil && ip.IsLoopback() && ip.Is4() {
		_, err := s.p.Hub.add(s) // sets s.local before s is reachable
		return err
	}
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
	if err != nil {
		return fmt.Errorf("leansub: udp: %w", err)
	}
	_ = c.SetReadBuffer(1 << 20)
	s.sock = c
	s.local = c.LocalAddr().(*net.UDPAddr).AddrPort()
	return nil
}

func (s *Subscriber) readJoin(ctx context.Context) (*livekit.JoinResponse, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = s.ws.SetReadDeadline(dl)
	}
	defer func() { _ = s.ws.SetReadDeadline(time.Time{}) }()
	for {
		res, err := s.read()
		if err != nil {
			return nil, fmt.Errorf("leansub: join: %w", err)
		}
		if j := res.GetJoin(); j != nil {
			return j, nil
		}
		if l := res.GetLeave(); l != nil {
			return nil, fmt.Errorf("leansub: join refused: %s", l.Reason)
		}
	}
}

func (s *Subscriber) read() (*livekit.SignalResponse, error) {
	_, data, err := s.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	res := &livekit.SignalResponse{}
	if err := proto.Unmarshal(data, res); err != nil {
		return nil, fmt.Errorf("signal response: %w", err)
	}
	return res, nil
}

func (s *Subscriber) send(req *livekit.SignalRequest) error {
	b, err := proto.Marshal(req)
	if err != nil {
		return err
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	_ = s.ws.SetWriteDeadline(time.Now().Add(5 * time.Second))
	return s.ws.WriteMessage(websocket.BinaryMessage, b)
}

// signalLoop answers offers and takes the server's candidates until the socket closes.
func (s *Subscriber) signalLoop() {
	defer s.wg.Done()
	sentCandidate := false
	for {
		res, err := s.read()
		if err != nil {
			s.end("signal closed: " + err.Error())
			return
		}
		switch m := res.Message.(type) {
		case *livekit.SignalResponse_Offer:
			ans, err := s.answer(m.Offer.Sdp)
			if err != nil {
				s.end("bad offer: " + err.Error())
				return
			}
			if err := s.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Answer{Answer: &livekit.SessionDescription{
				Type: "answer", Sdp: ans, Id: m.Offer.Id}}}); err != nil {
				s.end("send answer: " + err.Error())
				return
			}
			if !sentCandidate {
				sentCandidate = true
				cand := fmt.Sprintf(`{"candidate":"candidate:1 1 udp 2130706431 %s %d typ host","sdpMid":"%s","sdpMLineIndex":0}`,
					s.local.Addr(), s.local.Port(), firstMid(m.Offer.Sdp))
				_ = s.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{
					CandidateInit: cand, Target: livekit.SignalTarget_SUBSCRIBER}}})
			}
		case *livekit.SignalResponse_Trickle:
			if m.Trickle.Target == livekit.SignalTarget_SUBSCRIBER {
				s.candidate(m.Trickle.CandidateInit)
			}
		case *livekit.SignalResponse_Leave:
			s.end("server leave: " + m.Leave.GetReason().String())
			return
		}
	}
}

// candidate records the server's first UDP host candidate of our address family.
func (s *Subscriber) candidate(init string) {
	addr, ok := parseCandidate(init)
	if !ok || addr.Addr().Is4() != s.local.Addr().Is4() {
		return
	}
	s.mu.Lock()
	if !s.server.IsValid() {
		s.server = addr
	}
	s.mu.Unlock()
}

func (s *Subscriber) pingLoop(every time.Duration) {
	defer s.wg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = s.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Ping{Ping: time.Now().UnixMilli()}})
		case <-s.closed:
			return
		}
	}
}

func (s *Subscriber) end(reason string) {
	s.closeOnce.Do(func() {
		close(s.closed)
		_ = s.ws.Close()
		if s.sock != nil {
			_ = s.sock.Close()
		} else if s.p.Hub != nil {
			s.p.Hub.remove(s)
		}
		if s.p.OnClose != nil {
			s.p.OnClose(reason)
		}
	})
}

// Close leaves the room and releases everything. Idempotent.
func (s *Subscriber) Close() {
	_ = s.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{
		Reason: livekit.DisconnectReason_CLIENT_INITIATED}}})
	s.mu.Lock()
	dc := s.dtlsConn
	s.mu.Unlock()
	s.end("closed")
	if dc != nil {
		_ = dc.Close()
	}
	s.wg.Wait()
}

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// writeTo sends b to addr from the subscriber's address.
func (s *Subscriber) writeTo(b []byte, addr netip.AddrPort) (int, error) {
	if s.sock != nil {
		return s.sock.WriteToUDPAddrPort(b, addr)
	}
	return s.p.Hub.write(b, s.local.Addr(), addr)
}
