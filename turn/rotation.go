package turn

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"

	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"

	"github.com/atrium-live/atrium/pkg/turncred"
)

// Secret rotation (docs/operations.md): during a rotation the relay accepts credentials made
// with the current secret and with the previous one, so allocations made before the rotation
// keep refreshing and clients of SFUs not yet rotated keep allocating.
//
// pion's AuthHandler sees the username but not the message, and must return the one key
// pion then checks MESSAGE-INTEGRITY with. So, while a previous secret is set, the relay looks
// at each authenticated request as it is read (before pion handles it), finds which secret's
// key verifies it, and remembers that per (source address, username); the AuthHandler, which
// pion calls next for that message, returns that secret's key. Without a previous secret
// nothing is inspected. The wire format stays coturn's: no key id in the username.

// secretSet holds the current secret and, during a rotation, the previous one. Safe for
// concurrent use; SetSecrets swaps both at once.
type secretSet struct {
	list atomic.Pointer[[]string] // [current] or [current, previous]

	mu   sync.Mutex
	seen map[string]int // source address + "\x00" + username -> index into list
}

// stunHeaderSize is a STUN message header's length (RFC 8489 §5).
const stunHeaderSize = 20

// maxSeen bounds the memo: it is cleared when full (a miss only costs that request the
// current secret, i.e. a 401 the client retries with a fresh nonce).
const maxSeen = 1 << 16

func newSecretSet(current, previous string) *secretSet {
	s := &secretSet{seen: make(map[string]int)}
	s.set(current, previous)
	return s
}

func (s *secretSet) set(current, previous string) {
	l := []string{current}
	if previous != "" && previous != current {
		l = append(l, previous)
	}
	s.list.Store(&l)
	s.mu.Lock()
	clear(s.seen)
	s.mu.Unlock()
}

func (s *secretSet) rotating() bool { return len(*s.list.Load()) > 1 }

func seenKey(src net.Addr, username string) string { return src.String() + "\x00" + username }

// secretFor returns the secret to derive username's key from for a request from src.
func (s *secretSet) secretFor(src net.Addr, username string) string {
	l := *s.list.Load()
	if len(l) == 1 || src == nil {
		return l[0]
	}
	s.mu.Lock()
	i, ok := s.seen[seenKey(src, username)]
	s.mu.Unlock()
	if !ok || i >= len(l) {
		return l[0]
	}
	return l[i]
}

// observe inspects one STUN message from src, as read off the wire, and records which
// secret's key verifies its MESSAGE-INTEGRITY. Anything else (ChannelData, indications,
// unauthenticated requests, garbage) is ignored.
func (s *secretSet) observe(src net.Addr, b []byte, realm string) {
	l := *s.list.Load()
	if len(l) < 2 || !stun.IsMessage(b) {
		return
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil || m.Type.Class == stun.ClassIndication || !m.Contains(stun.AttrMessageIntegrity) {
		return
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil {
		return
	}
	var r stun.Realm
	if err := r.GetFrom(m); err == nil {
		realm = r.String()
	}
	for i, secret := range l {
		key := pionturn.GenerateAuthKey(user.String(), realm, turncred.Password(secret, user.String()))
		if stun.MessageIntegrity(key).Check(m) == nil {
			s.mu.Lock()
			if len(s.seen) >= maxSeen {
				clear(s.seen)
			}
			s.seen[seenKey(src, user.String())] = i
			s.mu.Unlock()
			return
		}
	}
}

// observingPacketConn shows every datagram pion reads to the secret set.
type observingPacketConn struct {
	net.PacketConn
	secrets *secretSet
	realm   string
}

func (c *observingPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err == nil && c.secrets.rotating() {
		c.secrets.observe(addr, p[:n], c.realm)
	}
	return n, addr, err
}

// observingListener wraps each accepted stream connection so its STUN messages are observed.
type observingListener struct {
	net.Listener
	secrets *secretSet
	realm   string
}

func (l *observingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &observingConn{Conn: c, secrets: l.secrets, realm: l.realm}, nil
}

// observingConn splits the byte stream pion reads into STUN messages and ChannelData frames
// (RFC 8656 §12.5: over TCP, ChannelData is padded to 4 bytes) and observes the messages. It
// never changes the bytes pion gets.
type observingConn struct {
	net.Conn
	secrets *secretSet
	realm   string
	buf     []byte // a partial STUN message
	skip    int    // bytes of a ChannelData frame still to pass
	lost    bool   // framing lost (not STUN): stop looking
}

func (c *observingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.lost && c.secrets.rotating() {
		c.feed(p[:n])
	}
	return n, err
}

func (c *observingConn) feed(b []byte) {
	for len(b) > 0 && !c.lost {
		if c.skip > 0 {
			k := min(c.skip, len(b))
			c.skip -= k
			b = b[k:]
			continue
		}
		need := 4
		if len(c.buf) < need {
			k := min(need-len(c.buf), len(b))
			c.buf = append(c.buf, b[:k]...)
			b = b[k:]
			if len(c.buf) < need {
				return
			}
		}
		switch first := c.buf[0]; {
		case first >= 0x40 && first <= 0x7f: // ChannelData
			size := int(binary.BigEndian.Uint16(c.buf[2:4]))
			c.skip = (size + 3) &^ 3
			c.buf = c.buf[:0]
		case first < 0x40: // STUN: 20-byte header + body
			total := stunHeaderSize + int(binary.BigEndian.Uint16(c.buf[2:4]))
			k := min(total-len(c.buf), len(b))
			c.buf = append(c.buf, b[:k]...)
			b = b[k:]
			if len(c.buf) < total {
				return
			}
			c.secrets.observe(c.Conn.RemoteAddr(), c.buf, c.realm)
			c.buf = c.buf[:0]
		default:
			c.lost = true
		}
	}
}
