package sfu

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/atrium-live/atrium/pkg/relaywire"
)

// relayLink is the room-state half of the link to one peer: a TCP connection carrying
// sealed Control records, written by one goroutine from a queue so that no room or
// participant path ever blocks on the network.
type relayLink struct {
	svc    *relayService
	peer   string
	dialer string // the node that dialled: when both dial at once, the lower id's link wins
	conn   net.Conn
	seal   *relaywire.Sealer
	open   *relaywire.Opener
	out    chan []byte
	done   chan struct{}
	once   sync.Once
	// replaced: closed because a duplicate link won; its end is not the peer's.
	replaced bool
}

const (
	linkQueue       = 4096
	linkDialTimeout = 2 * time.Second
	linkWriteWait   = 5 * time.Second
	// linkGrace is how long a broken link is redialled before the peer counts as gone
	// (its participants leave or move): a transient network fault costs nobody their
	// connection. A peer whose port refuses the dial is gone at once.
	linkGrace       = 3 * time.Second
	linkRedialEvery = 200 * time.Millisecond
	linkYield       = time.Second // the higher node id's wait for the lower's redial
)

// send queues a control message for peer, dialling the link first if there is none.
func (svc *relayService) send(peer string, c *relaywire.Control) error {
	l, err := svc.link(peer)
	if err != nil {
		return err
	}
	return l.send(c)
}

func (l *relayLink) send(c *relaywire.Control) error {
	plain, err := relaywire.AppendControl(nil, c)
	if err != nil {
		return err
	}
	select {
	case <-l.done:
		return fmt.Errorf("relay: link to %s closed", l.peer)
	default:
	}
	select {
	case l.out <- plain:
		return nil
	default:
		l.svc.log.Warn("relay link queue full; closing it", "peer", l.peer)
		l.close()
		return fmt.Errorf("relay: link to %s overloaded", l.peer)
	}
}

// sendIfLinked queues a control message for peer only if a link to it is up (no dial: for
// goodbyes to a node that may be gone, sent under locks).
func (svc *relayService) sendIfLinked(peer string, c *relaywire.Control) {
	svc.mu.Lock()
	l := svc.links[peer]
	svc.mu.Unlock()
	if l != nil {
		_ = l.send(c)
	}
}

// link returns the link to peer, dialling it if needed.
func (svc *relayService) link(peer string) (*relayLink, error) {
	svc.mu.Lock()
	if l := svc.links[peer]; l != nil {
		svc.mu.Unlock()
		return l, nil
	}
	closed := svc.closed
	svc.mu.Unlock()
	if closed {
		return nil, errors.New("relay: closed")
	}
	if !svc.s.node.Alive(peer) {
		return nil, fmt.Errorf("relay: node %s is not alive", peer)
	}
	// One dial at a time, so two rooms needing the same peer share one link.
	svc.dialMu.Lock()
	defer svc.dialMu.Unlock()
	svc.mu.Lock()
	l := svc.links[peer]
	svc.mu.Unlock()
	if l != nil {
		return l, nil
	}
	addr, err := svc.peerAddr(peer)
	if err != nil {
		return nil, err
	}
	conn, err := net.DialTimeout("tcp", addr, linkDialTimeout)
	if err != nil {
		return nil, fmt.Errorf("relay: dial %s at %s: %w", peer, addr, err)
	}
	l, err = svc.newLink(peer, svc.s.cfg.NodeID, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	// The first record introduces us; the peer learns who we are from its sealed header.
	if err := l.send(&relaywire.Control{Kind: "hello"}); err != nil {
		return nil, err
	}
	return svc.register(l), nil
}

func (svc *relayService) newLink(peer, dialer string, conn net.Conn) (*relayLink, error) {
	seal, err := svc.sealer(peer)
	if err != nil {
		return nil, err
	}
	open, err := relaywire.NewOpener(svc.master, svc.s.cfg.NodeID, peer)
	if err != nil {
		return nil, err
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
		_ = tc.SetKeepAlive(true)
		_ = tc.SetKeepAlivePeriod(5 * time.Second)
	}
	return &relayLink{svc: svc, peer: peer, dialer: dialer, conn: conn, seal: seal, open: open,
		out: make(chan []byte, linkQueue), done: make(chan struct{})}, nil
}

// register makes l the link to its peer and starts it; of two links to one peer (both
// nodes dialled at once) the one the lower node id dialled is kept.
func (svc *relayService) register(l *relayLink) *relayLink {
	svc.mu.Lock()
	cur := svc.links[l.peer]
	keep, drop := l, cur
	if cur != nil && cur.dialer != l.dialer && cur.dialer < l.dialer {
		keep, drop = cur, l // a redial by the same node replaces its old link
	}
	if svc.closed {
		keep, drop = nil, l
	}
	if keep != nil {
		svc.links[l.peer] = keep
	}
	svc.mu.Unlock()
	if drop != nil {
		drop.replaced = true
		drop.close()
	}
	if keep == l {
		svc.m.links.Set(float64(svc.linkCount()))
		svc.wg.Add(2)
		go l.writeLoop()
		go l.readLoop(nil)
	}
	if keep == nil {
		return l
	}
	return keep
}

func (svc *relayService) linkCount() int {
	svc.mu.Lock()
	defer svc.mu.Unlock()
	return len(svc.links)
}

func (l *relayLink) close() {
	l.once.Do(func() {
		close(l.done)
		_ = l.conn.Close()
	})
}

func (l *relayLink) writeLoop() {
	defer l.svc.wg.Done()
	w := bufio.NewWriter(l.conn)
	var frame []byte
	for {
		select {
		case <-l.done:
			return
		case plain := <-l.out:
			frame = l.seal.Seal(frame[:0], plain)
			_ = l.conn.SetWriteDeadline(time.Now().Add(linkWriteWait))
			err := relaywire.WriteRecord(w, frame)
			if err == nil && len(l.out) == 0 {
				err = w.Flush()
			}
			if err != nil {
				l.svc.log.Info("relay link write failed", "peer", l.peer, "err", err)
				l.close()
				return
			}
		}
	}
}

// readLoop reads control records until the link fails, then reports the peer gone (unless
// this link was replaced by another to the same peer). first is a record already read.
func (l *relayLink) readLoop(first []byte) {
	defer l.svc.wg.Done()
	r := bufio.NewReader(l.conn)
	var buf, plain []byte
	handle := func(frame []byte) error {
		p, err := l.open.Open(plain[:0], frame)
		if err != nil {
			return err
		}
		plain = p
		c, err := relaywire.ParseControl(p)
		if err != nil {
			return err
		}
		if c.Kind != "hello" {
			l.svc.onControl(l.peer, c)
		}
		return nil
	}
	var err error
	if first != nil {
		err = handle(first)
	}
	for err == nil {
		var frame []byte
		if frame, err = relaywire.ReadRecord(r, buf); err != nil {
			break
		}
		buf = frame
		err = handle(frame)
	}
	l.close()
	l.svc.mu.Lock()
	mine := l.svc.links[l.peer] == l
	if mine {
		delete(l.svc.links, l.peer)
	}
	closed := l.svc.closed
	l.svc.mu.Unlock()
	l.svc.m.links.Set(float64(l.svc.linkCount()))
	if mine && !l.replaced && !closed {
		l.svc.log.Warn("relay link down; redialling", "peer", l.peer, "err", err)
		l.svc.wg.Add(1)
		go l.svc.relink(l.peer)
	}
}

// relink tries, for linkGrace, to get a link to peer back (either end may dial it; the
// first record of a new link from peer counts too). Back: the rooms resynchronise
// (relinked). Not back, or peer's port refuses: peer is gone (peerDown).
func (svc *relayService) relink(peer string) {
	defer svc.wg.Done()
	deadline := time.Now().Add(linkGrace)
	for {
		svc.mu.Lock()
		closed := svc.closed
		svc.mu.Unlock()
		if closed {
			return
		}
		if !svc.s.node.Alive(peer) {
			break
		}
		// The lower node id redials at once; the other waits a moment for that link (two
		// links at once would have one dropped, and what was queued on it lost).
		var err error
		if svc.s.cfg.NodeID < peer || time.Until(deadline) < linkGrace-linkYield {
			_, err = svc.link(peer)
		} else {
			svc.mu.Lock()
			if svc.links[peer] == nil {
				err = errors.New("waiting for the peer to redial")
			}
			svc.mu.Unlock()
		}
		if err == nil {
			svc.log.Info("relay link restored", "peer", peer)
			for _, r := range svc.s.rooms.all() {
				r.span.relinked(peer)
			}
			return
		}
		if errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			svc.log.Info("relay link not restored", "peer", peer, "err", err)
			break
		}
		time.Sleep(linkRedialEvery)
	}
	svc.peerDown(peer)
}

// breakLinks closes the TCP connection of every link, as a network fault would.
func (svc *relayService) breakLinks() {
	svc.mu.Lock()
	var conns []net.Conn
	for _, l := range svc.links {
		conns = append(conns, l.conn)
	}
	svc.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// acceptLoop takes links other nodes dial: the first record names and authenticates the
// peer (only a holder of the pair's key can seal it).
func (svc *relayService) acceptLoop() {
	defer svc.wg.Done()
	for {
		conn, err := svc.tcp.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go svc.accept(conn)
	}
}

func (svc *relayService) accept(conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	frame, err := relaywire.ReadRecord(conn, nil)
	if err != nil {
		conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Time{})
	// The sealed first record proves the peer holds the pair's key; gossip may not know a
	// node that just started yet, so liveness is not required here.
	peer, err := relaywire.Sender(frame)
	if err != nil || peer == svc.s.cfg.NodeID {
		svc.m.dropped.Inc()
		conn.Close()
		return
	}
	l, err := svc.newLink(peer, peer, conn)
	if err != nil {
		conn.Close()
		return
	}
	if _, err := l.open.Open(nil, frame); err != nil {
		svc.m.dropped.Inc()
		svc.log.Warn("relay link refused: first record does not authenticate", "claimed_peer", peer, "remote", conn.RemoteAddr().String())
		conn.Close()
		return
	}
	kept := svc.register(l)
	_ = kept
}

// onControl dispatches one control message from peer to its room.
func (svc *relayService) onControl(peer string, c *relaywire.Control) {
	r := svc.s.rooms.get(c.Room)
	switch c.Kind {
	case relaywire.KindAttach:
		if r == nil || r.span.origin != "" {
			// Not the origin (any more): the relay node must send its participants to
			// the room's current owner.
			_ = svc.send(peer, &relaywire.Control{Kind: relaywire.KindClosed, Room: c.Room, Moved: true})
			return
		}
		r.span.attach(peer, c)
		return
	}
	if r == nil {
		if c.Kind == relaywire.KindPull {
			svc.dropSinks(peer, c.Track) // the room ended here: stop what was still sent
		}
		return
	}
	switch c.Kind {
	case relaywire.KindFeed:
		r.span.applyFeed(peer, c)
	case relaywire.KindAdmin:
		r.span.applyAdmin(peer, c)
	case relaywire.KindDetach:
		r.span.detach(peer)
	case relaywire.KindSnapshot:
		r.span.applySnapshot(peer, c)
	case relaywire.KindParticipant:
		r.span.applyParticipants(peer, c)
	case relaywire.KindData:
		r.span.deliverData(peer, c)
	case relaywire.KindPull:
		r.span.pull(peer, c.Track, c.Layers)
	case relaywire.KindSpeakers:
		r.span.applySpeakers(peer, c)
	case relaywire.KindRoom:
		r.span.applyRoom(peer, c)
	case relaywire.KindClosed:
		r.span.originClosed(peer, c.Moved)
	}
}
