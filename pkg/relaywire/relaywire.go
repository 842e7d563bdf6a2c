// Package relaywire is the wire format of the media relay between SFU nodes: one link per
// node pair, shared by every room the two nodes have in common (docs/relay.md). Media (RTP
// from the origin, RTCP feedback back to it) travels as UDP datagrams, room state as a TCP
// stream of records; both are sealed with AES-256-GCM under a key only the two nodes of the
// pair (and holders of the cluster secret) can derive, and carry a counter so that a frame
// cannot be replayed.
//
// It is its own framing rather than DTLS because the link must survive either node
// restarting without a handshake to redo for every room, and because every member already
// shares the cluster secret that authenticates gossip: a per-pair, per-direction key
// derived from it needs no certificates.
package relaywire

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Version is the frame version this package writes and accepts.
const Version = 1

// Frame types (the first byte of the plaintext).
const (
	TypeRTP     byte = 1 // origin → relay node: one RTP packet of a track's layer
	TypeRTCP    byte = 2 // relay node → origin: RTCP (NACK, PLI) for a track's layer
	TypeControl byte = 3 // either way: one Control message (JSON)
)

// MaxFrame bounds a record on the control stream.
const MaxFrame = 1 << 20

// Errors.
var (
	ErrMalformed = errors.New("relaywire: malformed frame")
	ErrAuth      = errors.New("relaywire: frame does not authenticate")
	ErrReplay    = errors.New("relaywire: replayed or too old frame")
)

const (
	magic0, magic1 = 'A', 'R'
	tagSize        = 16
	windowSize     = 64
)

// DeriveKey is the AES-256 key for frames sent by from to to: HMAC-SHA256 of the cluster
// secret over the direction, so each direction of each pair has its own key and a node
// cannot be made to accept its own frames reflected back.
func DeriveKey(master []byte, from, to string) []byte {
	m := hmac.New(sha256.New, master)
	fmt.Fprintf(m, "atrium relay v%d|%s|%s", Version, from, to)
	return m.Sum(nil)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("relaywire: %w", err)
	}
	return cipher.NewGCM(b)
}

// Sealer seals frames from one node to one peer. Safe for concurrent use.
type Sealer struct {
	aead    cipher.AEAD
	header  []byte // magic, version, sender id, session
	counter atomic.Uint64
}

// NewSealer builds the sealer for frames self sends to peer. session must grow across
// restarts of self (its start time in seconds does), so that the peer can tell a restart
// from a replay.
func NewSealer(master []byte, self, peer string, session uint32) (*Sealer, error) {
	if len(self) == 0 || len(self) > 255 {
		return nil, fmt.Errorf("relaywire: node id %q: length must be 1..255", self)
	}
	aead, err := newAEAD(DeriveKey(master, self, peer))
	if err != nil {
		return nil, err
	}
	h := []byte{magic0, magic1, Version, byte(len(self))}
	h = append(h, self...)
	h = binary.BigEndian.AppendUint32(h, session)
	return &Sealer{aead: aead, header: h}, nil
}

// Overhead is how many bytes Seal adds to a plaintext.
func (s *Sealer) Overhead() int { return len(s.header) + 8 + tagSize }

// Seal appends the sealed frame of plaintext to dst.
func (s *Sealer) Seal(dst, plaintext []byte) []byte {
	ctr := s.counter.Add(1)
	start := len(dst)
	dst = append(dst, s.header...)
	dst = binary.BigEndian.AppendUint64(dst, ctr)
	// The nonce is the header's last 12 bytes: session and counter.
	return s.aead.Seal(dst, dst[len(dst)-12:], plaintext, dst[start:])
}

// header is the clear part of a frame.
type header struct {
	sender  []byte
	session uint32
	counter uint64
	n       int // header length
}

func parseHeader(frame []byte) (header, error) {
	if len(frame) < 4 || frame[0] != magic0 || frame[1] != magic1 || frame[2] != Version {
		return header{}, ErrMalformed
	}
	idLen := int(frame[3])
	n := 4 + idLen + 4 + 8
	if idLen == 0 || len(frame) < n+tagSize {
		return header{}, ErrMalformed
	}
	return header{
		sender:  frame[4 : 4+idLen],
		session: binary.BigEndian.Uint32(frame[4+idLen:]),
		counter: binary.BigEndian.Uint64(frame[8+idLen:]),
		n:       n,
	}, nil
}

// Sender returns the id of the node that sent frame, as its clear header says (Open
// proves it: only that node's key opens it).
func Sender(frame []byte) (string, error) {
	h, err := parseHeader(frame)
	return string(h.sender), err
}

// SenderBytes is Sender without a copy: the result aliases frame.
func SenderBytes(frame []byte) ([]byte, error) {
	h, err := parseHeader(frame)
	return h.sender, err
}

// Opener opens frames one peer sent to this node and refuses replays: within a session,
// a counter seen before or more than 64 behind the highest is refused (datagrams may be
// reordered a little); a newer session (the peer restarted) starts afresh, an older one
// is refused. Safe for concurrent use.
type Opener struct {
	aead cipher.AEAD
	peer string

	mu      sync.Mutex
	session uint32
	max     uint64
	window  uint64 // bit i: counter max-i was seen
}

// NewOpener builds the opener for frames peer sends to self.
func NewOpener(master []byte, self, peer string) (*Opener, error) {
	aead, err := newAEAD(DeriveKey(master, peer, self))
	if err != nil {
		return nil, err
	}
	return &Opener{aead: aead, peer: peer}, nil
}

// Peer is the node whose frames o opens.
func (o *Opener) Peer() string { return o.peer }

// Open authenticates frame and appends its plaintext to dst.
func (o *Opener) Open(dst, frame []byte) ([]byte, error) {
	h, err := parseHeader(frame)
	if err != nil {
		return nil, err
	}
	if string(h.sender) != o.peer {
		return nil, fmt.Errorf("%w: sent by %q, not %q", ErrAuth, h.sender, o.peer)
	}
	out, err := o.aead.Open(dst, frame[h.n-12:h.n], frame[h.n:], frame[:h.n])
	if err != nil {
		return nil, ErrAuth
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.accept(h.session, h.counter) {
		return nil, ErrReplay
	}
	return out, nil
}

// accept records (session, counter) and reports whether it is new.
func (o *Opener) accept(session uint32, ctr uint64) bool {
	switch {
	case session < o.session:
		return false
	case session > o.session || o.max == 0:
		o.session, o.max, o.window = session, ctr, 1
		return true
	case ctr > o.max:
		shift := ctr - o.max
		if shift >= windowSize {
			o.window = 0
		} else {
			o.window <<= shift
		}
		o.window |= 1
		o.max = ctr
		return true
	}
	back := o.max - ctr
	if back >= windowSize || o.window&(1<<back) != 0 {
		return false
	}
	o.window |= 1 << back
	return true
}

// AppendMedia appends the plaintext of a media frame: type, track id, layer, packet.
func AppendMedia(dst []byte, typ byte, track string, layer uint8, pkt []byte) []byte {
	dst = append(dst, typ, byte(len(track)))
	dst = append(dst, track...)
	dst = append(dst, layer)
	return append(dst, pkt...)
}

// ParseMedia splits a media plaintext. track aliases b.
func ParseMedia(b []byte) (typ byte, track []byte, layer uint8, pkt []byte, err error) {
	if len(b) < 3 {
		return 0, nil, 0, nil, ErrMalformed
	}
	typ, n := b[0], int(b[1])
	if (typ != TypeRTP && typ != TypeRTCP) || n == 0 || len(b) < 2+n+1 {
		return 0, nil, 0, nil, ErrMalformed
	}
	return typ, b[2 : 2+n], b[2+n], b[3+n:], nil
}
