package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/atrium-live/atrium/sfu/internal/media"
	"github.com/atrium-live/atrium/sfu/internal/udpbatch"
	"github.com/livekit/protocol/livekit"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"
)

// transport is the node's shared WebRTC plumbing: the ICE sockets (muxed, so one UDP port
// serves every PeerConnection) and the SettingEngine built on them. PeerConnections are made
// by newPeerConnection, each with its own MediaEngine and interceptor registry so a
// subscriber's bandwidth estimator can be routed back to that subscriber.
type transport struct {
	log      *slog.Logger
	settings webrtc.SettingEngine
	udpMux   *ice.UDPMuxDefault
	tcpMux   *ice.TCPMuxDefault
	udpConn  net.PacketConn
	tcpLn    net.Listener
	batch    *udpbatch.Conn // the muxed UDP socket when rtc.batch_writes is on; else nil
}

// batcher is what Receivers bracket their fan-outs with, or nil (one syscall per write).
func (t *transport) batcher() media.Batcher {
	if t.batch == nil {
		return nil
	}
	return t.batch
}

type transportParams struct {
	Config  RTCConfig
	UDPConn net.PacketConn // may be nil: open Config.UDPAddr (if set)
	TCPLn   net.Listener   // may be nil: open Config.TCPAddr (if set)
	Logger  *slog.Logger
}

func newTransport(p transportParams) (*transport, error) {
	t := &transport{log: p.Logger}
	s := webrtc.SettingEngine{}
	s.LoggerFactory = pionLoggerFactory{log: p.Logger}
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	s.SetICETimeouts(5*time.Second, 15*time.Second, 2*time.Second)
	// pion waits 2 s before nominating a relayed pair, hoping for a better one. A client whose
	// only path is TURN (iceTransportPolicy relay, UDP-blocked networks) then sees media 2 s
	// late; host pairs are checked first anyway, so a short wait loses nothing.
	s.SetRelayAcceptanceMinWait(250 * time.Millisecond)
	types := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}

	udp := p.UDPConn
	if udp == nil && p.Config.UDPAddr != "" {
		c, err := net.ListenPacket("udp", p.Config.UDPAddr)
		if err != nil {
			return nil, fmt.Errorf("sfu: ICE UDP %s: %w", p.Config.UDPAddr, err)
		}
		udp = c
	}
	if udp != nil {
		t.udpConn = udp
		muxConn := udp
		if uc, ok := udp.(*net.UDPConn); ok && p.Config.BatchWrites {
			t.batch = udpbatch.New(uc, udpbatch.Params{})
			muxConn = t.batch
		}
		t.udpMux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: muxConn, Logger: s.LoggerFactory.NewLogger("udpmux")})
		s.SetICEUDPMux(t.udpMux)
		if la, ok := udp.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil && !la.IP.IsUnspecified() {
			types = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
		}
	} else if err := s.SetEphemeralUDPPortRange(p.Config.PortMin, p.Config.PortMax); err != nil {
		return nil, fmt.Errorf("sfu: ICE port range: %w", err)
	}

	tcp := p.TCPLn
	if tcp == nil && p.Config.TCPAddr != "" {
		l, err := net.Listen("tcp", p.Config.TCPAddr)
		if err != nil {
			t.close()
			return nil, fmt.Errorf("sfu: ICE TCP %s: %w", p.Config.TCPAddr, err)
		}
		tcp = l
	}
	if tcp != nil {
		t.tcpLn = tcp
		t.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{Listener: tcp, Logger: s.LoggerFactory.NewLogger("tcpmux"), ReadBufferSize: 64, WriteBufferSize: 4 << 20})
		s.SetICETCPMux(t.tcpMux)
		types = append(types, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	s.SetNetworkTypes(types)
	if len(p.Config.NAT1To1IPs) > 0 {
		s.SetNAT1To1IPs(p.Config.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	if p.Config.AllowLoopback {
		s.SetIncludeLoopbackCandidate(true)
	}
	t.settings = s
	return t, nil
}

// udpAddr is the muxed ICE UDP address, or nil.
func (t *transport) udpAddr() net.Addr {
	if t.udpConn == nil {
		return nil
	}
	return t.udpConn.LocalAddr()
}

func (t *transport) close() {
	if t.udpMux != nil {
		_ = t.udpMux.Close()
	}
	if t.udpConn != nil {
		_ = t.udpConn.Close()
	}
	if t.tcpMux != nil {
		_ = t.tcpMux.Close()
	}
	if t.tcpLn != nil {
		_ = t.tcpLn.Close()
	}
}

// pcParams configure one PeerConnection.
type pcParams struct {
	// OnEstimator receives the congestion controller's bandwidth estimator (PCs that send
	// media to a subscriber).
	OnEstimator func(id string, est cc.BandwidthEstimator)
	// SendOnly marks a PC that never receives media (the dual-PC subscriber PC): it skips the
	// interceptors that serve incoming streams (receiver reports, TWCC feedback).
	SendOnly bool
	// AllowCodec, if set, limits the codecs negotiated (a room's enabled codecs, on the
	// publisher PC).
	AllowCodec func(mime string) bool
}

// newPeerConnection builds a PeerConnection with the media path's codecs and interceptors.
func (t *transport) newPeerConnection(p pcParams) (*webrtc.PeerConnection, error) {
	pc, _, err := t.newPeerConnectionAPI(p)
	return pc, err
}

// newPeerConnectionAPI is newPeerConnection that also returns the PeerConnection's API (the
// single-PC session makes its own RTPSenders with it).
func (t *transport) newPeerConnectionAPI(p pcParams) (*webrtc.PeerConnection, *webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := media.ConfigureMediaEngineWith(m, p.AllowCodec); err != nil {
		return nil, nil, fmt.Errorf("sfu: media engine: %w", err)
	}
	reg := &interceptor.Registry{}
	if err := configureInterceptors(m, reg, p.SendOnly, p.OnEstimator); err != nil {
		return nil, nil, fmt.Errorf("sfu: interceptors: %w", err)
	}
	api := webrtc.NewAPI(webrtc.WithSettingEngine(t.settings), webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg))
	pc, err := api.NewPeerConnection(webrtc.Configuration{SDPSemantics: webrtc.SDPSemanticsUnifiedPlan})
	if err != nil {
		return nil, nil, fmt.Errorf("sfu: new peer connection: %w", err)
	}
	return pc, api, nil
}

// iceServers returns the TURN servers with credentials minted for identity, or nil.
func iceServers(c TURNConfig, identity string, now time.Time) []*livekit.ICEServer {
	if len(c.URLs) == 0 {
		return nil
	}
	user, pass := turncred.Generate(c.Secret, identity, c.TTL, now)
	return []*livekit.ICEServer{{Urls: append([]string(nil), c.URLs...), Username: user, Credential: pass}}
}
