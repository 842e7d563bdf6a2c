package sfu

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/pkg/relaywire"
)

// relayService is the node's end of the relay links (docs/relay.md): one UDP socket for
// media and one TCP listener for room state on the same port, and at most one link per
// peer node, shared by every room the two nodes have in common. The origin side keeps
// relaySinks (one per peer, track and layer), the relay side remoteTracks.
type relayService struct {
	s       *Server
	log     *slog.Logger
	master  []byte
	session uint32
	udp     *net.UDPConn
	tcp     net.Listener
	addr    string // advertised host:port
	loss    atomic.Uint64
	m       relayMetrics

	dialMu  sync.Mutex
	mu      sync.Mutex
	closed  bool
	links   map[string]*relayLink
	sealers map[string]*relaywire.Sealer
	openers map[string]*relaywire.Opener // UDP, per peer
	addrs   map[string]*net.UDPAddr
	sinks   map[sinkKey]*relaySink
	remote  map[string]*remoteTrack // track sid -> track received from its origin
	wg      sync.WaitGroup
}

type relayMetrics struct {
	streamsIn, streamsOut prometheus.Gauge
	packetsIn, packetsOut prometheus.Counter
	dropped               prometheus.Counter
	links                 prometheus.Gauge
}

func newRelayMetrics(reg prometheus.Registerer) (relayMetrics, error) {
	m := relayMetrics{
		streamsIn: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_relay_streams_in",
			Help: "Track layers this node receives over relay links (one per track, layer and origin, however many local subscribers)."}),
		streamsOut: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_relay_streams_out",
			Help: "Track layers this node sends over relay links (one per track, layer and relay node)."}),
		packetsIn:  prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_relay_packets_in_total", Help: "RTP packets received over relay links."}),
		packetsOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_relay_packets_out_total", Help: "RTP packets sent over relay links (retransmissions included)."}),
		dropped:    prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_relay_frames_refused_total", Help: "Relay frames refused (unknown sender, bad authentication, replay, malformed)."}),
		links:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_relay_links", Help: "Open relay links (node pairs)."}),
	}
	for _, c := range []prometheus.Collector{m.streamsIn, m.streamsOut, m.packetsIn, m.packetsOut, m.dropped, m.links} {
		if err := reg.Register(c); err != nil {
			return m, fmt.Errorf("register: %w", err)
		}
	}
	return m, nil
}

// relayMaster is the secret the link keys derive from: the cluster's gossip key, or,
// without one (dev), the API secrets every node shares.
func relayMaster(cfg Config) ([]byte, error) {
	k, err := cfg.Cluster.GossipKey()
	if err != nil {
		return nil, err
	}
	if len(k) > 0 {
		return k, nil
	}
	keys, err := cfg.apiKeys()
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(keys))
	for id := range keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	h := sha256.New()
	for _, id := range ids {
		fmt.Fprintf(h, "%s=%s\n", id, keys[id])
	}
	return h.Sum(nil), nil
}

// newRelayService opens the link sockets; nil when relaying is off.
func newRelayService(s *Server) (*relayService, error) {
	rc := s.cfg.Relay
	if rc.Addr == "" || !s.cfg.Cluster.Enabled {
		return nil, nil
	}
	master, err := relayMaster(s.cfg)
	if err != nil {
		return nil, fmt.Errorf("sfu: relay key: %w", err)
	}
	m, err := newRelayMetrics(s.reg)
	if err != nil {
		return nil, fmt.Errorf("sfu: relay metrics: %w", err)
	}
	svc := &relayService{
		s: s, log: s.log.With("component", "relay"), master: master, session: uint32(time.Now().Unix()), m: m,
		links: map[string]*relayLink{}, sealers: map[string]*relaywire.Sealer{}, openers: map[string]*relaywire.Opener{},
		addrs: map[string]*net.UDPAddr{}, sinks: map[sinkKey]*relaySink{}, remote: map[string]*remoteTrack{},
	}
	// UDP first (port 0 picks one), then TCP on the same port; a port taken for TCP is
	// retried with another.
	for attempt := 0; ; attempt++ {
		ua, err := net.ResolveUDPAddr("udp", rc.Addr)
		if err != nil {
			return nil, fmt.Errorf("sfu: relay.addr: %w", err)
		}
		if svc.udp, err = net.ListenUDP("udp", ua); err != nil {
			return nil, fmt.Errorf("sfu: relay listen udp %s: %w", rc.Addr, err)
		}
		port := svc.udp.LocalAddr().(*net.UDPAddr).Port
		svc.tcp, err = net.Listen("tcp", net.JoinHostPort(ua.IP.String(), fmt.Sprint(port)))
		if ua.IP == nil {
			svc.tcp, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		}
		if err == nil {
			break
		}
		svc.udp.Close()
		if ua.Port != 0 || attempt >= 5 {
			return nil, fmt.Errorf("sfu: relay listen tcp: %w", err)
		}
	}
	svc.addr = rc.AdvertiseAddr
	if svc.addr == "" {
		svc.addr = advertisedRelayAddr(s.cfg.Cluster.AdvertiseAddr, svc.udp.LocalAddr().(*net.UDPAddr))
	}
	_ = svc.udp.SetReadBuffer(4 << 20)
	_ = svc.udp.SetWriteBuffer(4 << 20)
	return svc, nil
}

// start runs the socket readers.
func (svc *relayService) start() {
	svc.wg.Add(2)
	go svc.acceptLoop()
	go svc.udpLoop()
}

func (svc *relayService) close() {
	svc.mu.Lock()
	if svc.closed {
		svc.mu.Unlock()
		return
	}
	svc.closed = true
	links := make([]*relayLink, 0, len(svc.links))
	for _, l := range svc.links {
		links = append(links, l)
	}
	svc.mu.Unlock()
	_ = svc.tcp.Close()
	_ = svc.udp.Close()
	for _, l := range links {
		l.close()
	}
	svc.wg.Wait()
}

// setLoss makes the node drop that fraction of the RTP frames it sends on relay links, at
// random: fault injection for tests and drills (the link must repair it).
func (svc *relayService) setLoss(f float64) { svc.loss.Store(math.Float64bits(f)) }

func (svc *relayService) dropFrame() bool {
	f := math.Float64frombits(svc.loss.Load())
	return f > 0 && rand.Float64() < f
}

func (svc *relayService) sealer(peer string) (*relaywire.Sealer, error) {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	if s := svc.sealers[peer]; s != nil {
		return s, nil
	}
	s, err := relaywire.NewSealer(svc.master, svc.s.cfg.NodeID, peer, svc.session)
	if err != nil {
		return nil, err
	}
	svc.sealers[peer] = s
	return s, nil
}

// peerAddr is a member's relay address from gossip.
func (svc *relayService) peerAddr(peer string) (string, error) {
	m, ok := svc.s.node.Member(peer)
	if !ok || m.RelayAddr == "" {
		return "", fmt.Errorf("relay: node %s is not a live member with a relay address", peer)
	}
	return m.RelayAddr, nil
}

func (svc *relayService) udpAddr(peer string) (*net.UDPAddr, error) {
	svc.mu.Lock()
	a := svc.addrs[peer]
	svc.mu.Unlock()
	if a != nil {
		return a, nil
	}
	s, err := svc.peerAddr(peer)
	if err != nil {
		return nil, err
	}
	if a, err = net.ResolveUDPAddr("udp", s); err != nil {
		return nil, fmt.Errorf("relay: address of %s: %w", peer, err)
	}
	svc.mu.Lock()
	svc.addrs[peer] = a
	svc.mu.Unlock()
	return a, nil
}

// sendMedia seals one RTP or RTCP packet of track's layer to peer over UDP. buf is
// scratch space the caller owns.
func (svc *relayService) sendMedia(peer string, typ byte, track string, layer int, pkt []byte, buf *[]byte) error {
	if typ == relaywire.TypeRTP && svc.dropFrame() {
		return nil
	}
	sl, err := svc.sealer(peer)
	if err != nil {
		return err
	}
	a, err := svc.udpAddr(peer)
	if err != nil {
		return err
	}
	b := *buf
	plain := relaywire.AppendMedia(b[:0], typ, track, uint8(layer), pkt)
	frame := sl.Seal(plain[len(plain):], plain)
	*buf = plain[:0]
	if _, err := svc.udp.WriteToUDP(frame, a); err != nil {
		return fmt.Errorf("relay: send to %s: %w", peer, err)
	}
	return nil
}

// udpLoop reads media frames: RTP for tracks this node relays, RTCP for its sinks.
func (svc *relayService) udpLoop() {
	defer svc.wg.Done()
	buf := make([]byte, 2048)
	plain := make([]byte, 0, 2048)
	for {
		n, _, err := svc.udp.ReadFromUDP(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		peerID, err := relaywire.SenderBytes(buf[:n])
		if err != nil {
			svc.m.dropped.Inc()
			continue
		}
		o, peer := svc.udpOpener(peerID)
		if o == nil {
			svc.m.dropped.Inc()
			continue
		}
		p, err := o.Open(plain[:0], buf[:n])
		if err != nil {
			svc.m.dropped.Inc()
			continue
		}
		typ, track, layer, pkt, err := relaywire.ParseMedia(p)
		if err != nil {
			svc.m.dropped.Inc()
			continue
		}
		switch typ {
		case relaywire.TypeRTP:
			svc.mu.Lock()
			rt := svc.remote[string(track)]
			svc.mu.Unlock()
			if rt != nil && rt.write(peer, int(layer), pkt) {
				svc.m.packetsIn.Inc()
			}
		case relaywire.TypeRTCP:
			svc.mu.Lock()
			sk := svc.sinks[sinkKey{peer: peer, track: string(track), layer: int(layer)}]
			svc.mu.Unlock()
			if sk != nil {
				sk.handleRTCP(pkt)
			}
		}
	}
}

// udpOpener is the opener for a live member's datagrams (nil for strangers), and the
// member's id. It allocates only the first time it sees a peer.
func (svc *relayService) udpOpener(id []byte) (*relaywire.Opener, string) {
	svc.mu.Lock()
	o := svc.openers[string(id)]
	svc.mu.Unlock()
	if o != nil {
		return o, o.Peer()
	}
	peer := string(id)
	if peer == svc.s.cfg.NodeID || !svc.s.node.Alive(peer) {
		return nil, ""
	}
	o, err := relaywire.NewOpener(svc.master, svc.s.cfg.NodeID, peer)
	if err != nil {
		return nil, ""
	}
	svc.mu.Lock()
	if cur := svc.openers[peer]; cur != nil {
		o = cur
	} else {
		svc.openers[peer] = o
	}
	svc.mu.Unlock()
	return o, peer
}

// peerDown forgets a peer that died or whose link broke: its sinks, the rooms relayed
// from it, its participants in rooms this node is the origin of.
func (svc *relayService) peerDown(peer string) {
	svc.mu.Lock()
	var sinks []*relaySink
	for k, sk := range svc.sinks {
		if k.peer == peer {
			sinks = append(sinks, sk)
			delete(svc.sinks, k)
		}
	}
	delete(svc.addrs, peer)
	delete(svc.openers, peer)
	svc.mu.Unlock()
	changed := map[*publishedTrack]bool{}
	for _, sk := range sinks {
		sk.close()
		changed[sk.t] = true
	}
	for t := range changed {
		t.subscribersChanged() // a relay node fed by this one no longer pulls through it
	}
	for _, r := range svc.s.rooms.all() {
		r.span.peerDown(peer)
	}
}

// advertisedRelayAddr is the link address other nodes dial when relay.advertise_addr is
// not set: the bound port on the host gossip advertises (as for the signal URL), or on the
// bound host when that is specific.
func advertisedRelayAddr(gossipAdvertise string, bound *net.UDPAddr) string {
	host := bound.IP.String()
	if h, _, err := net.SplitHostPort(gossipAdvertise); err == nil && h != "" {
		host = h
	}
	if ip := net.ParseIP(host); host == "" || ip == nil || ip.IsUnspecified() {
		if ip == nil && host != "" && host != "<nil>" {
			return net.JoinHostPort(host, fmt.Sprint(bound.Port)) // a name
		}
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, fmt.Sprint(bound.Port))
}
