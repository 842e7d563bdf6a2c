package leansub

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/dtls/v3/pkg/crypto/fingerprint"
	"github.com/pion/dtls/v3/pkg/crypto/selfsign"
	"github.com/pion/srtp/v3"
	"github.com/pion/stun/v4"
	"golang.org/x/net/ipv4"
)

// NewCertificate generates a self-signed DTLS identity.
func NewCertificate() (*Certificate, error) {
	cert, err := selfsign.GenerateSelfSigned()
	if err != nil {
		return nil, fmt.Errorf("leansub: certificate: %w", err)
	}
	x, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("leansub: certificate: %w", err)
	}
	fp, err := fingerprint.Fingerprint(x, crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("leansub: fingerprint: %w", err)
	}
	return &Certificate{fingerprint: fp, dtls: dtls.Config{
		Certificates:           []tls.Certificate{cert},
		InsecureSkipVerify:     true, // a load tester trusts the server it was pointed at
		SRTPProtectionProfiles: []dtls.SRTPProtectionProfile{dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80},
		ExtendedMasterSecret:   dtls.RequestExtendedMasterSecret,
		// The first ClientHello often arrives before the server's DTLS is started (it
		// starts on ICE nomination, as we do): retransmit soon, it costs one datagram.
		FlightInterval: 50 * time.Millisecond,
	}}, nil
}

// answer registers the offer's tracks (OnTrack) and returns the SDP answer.
func (s *Subscriber) answer(offer string) (string, error) {
	secs, ufrag, pwd, cands := parseOffer(offer)
	if len(secs) == 0 {
		return "", errors.New("no media sections")
	}
	s.mu.Lock()
	if ufrag != "" {
		s.remoteUfr, s.remotePwd = ufrag, pwd
	}
	s.mu.Unlock()
	for _, c := range cands {
		s.candidate(c)
	}
	next := map[uint32]*Track{}
	s.mu.Lock()
	for k, v := range s.tracks {
		next[k] = v
	}
	s.mu.Unlock()
	for _, sec := range secs {
		if sec.rejected || sec.ssrc == 0 || (sec.kind != "audio" && sec.kind != "video") || next[sec.ssrc] != nil {
			continue
		}
		t := &Track{SID: sec.trackID, Video: sec.kind == "video", SSRC: sec.ssrc}
		if s.p.OnTrack != nil {
			s.p.OnTrack(t)
		}
		next[sec.ssrc] = t
	}
	s.mu.Lock()
	s.tracks = next
	s.mu.Unlock()
	s.trackMap.Store(&next)
	return buildAnswer(secs, s.ufrag, s.pwd, s.p.Cert.fingerprint), nil
}

// udpLoop reads the subscriber's own socket in batches (without a Hub).
func (s *Subscriber) udpLoop() {
	defer s.wg.Done()
	const batch = 16
	pc := ipv4.NewPacketConn(s.sock)
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Buffers = [][]byte{make([]byte, 1500)}
	}
	for {
		n, err := pc.ReadBatch(msgs, 0)
		if err != nil {
			s.end("udp: " + err.Error())
			return
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			m := &msgs[i]
			var from netip.AddrPort
			if ua, ok := m.Addr.(*net.UDPAddr); ok {
				from = ua.AddrPort()
			}
			s.handle(m.Buffers[0][:m.N], from, now)
		}
	}
}

// handle takes one datagram: STUN checks are answered, DTLS records go to the handshake,
// SRTP is decrypted and handed to OnPacket. RTCP from the server is ignored. Called by one
// goroutine at a time (the subscriber's reader, or its Hub's).
func (s *Subscriber) handle(b []byte, from netip.AddrPort, now time.Time) {
	if len(b) == 0 {
		return
	}
	switch {
	case b[0] < 4:
		if from.IsValid() {
			s.stun(b, from)
		}
	case b[0] >= 20 && b[0] <= 63:
		select {
		case s.dtlsIn <- append([]byte(nil), b...):
		default: // the handshake retransmits
		}
	case b[0] >= 128 && b[0] <= 191 && len(b) >= 12:
		if b[1] >= 192 && b[1] <= 223 { // RTCP
			return
		}
		ctx := s.srtpCtx.Load()
		if ctx == nil {
			return
		}
		out, err := ctx.DecryptRTP(s.dec[:], b, &s.hdr)
		if err != nil {
			return
		}
		tm := s.trackMap.Load()
		if tm == nil {
			return
		}
		if t := (*tm)[s.hdr.SSRC]; t != nil && s.p.OnPacket != nil {
			s.p.OnPacket(t, out, now)
		}
	}
}

// stun answers the server's connectivity checks; the first nominated one (USE-CANDIDATE)
// starts DTLS towards its source.
func (s *Subscriber) stun(b []byte, from netip.AddrPort) {
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if err := m.Decode(); err != nil || m.Type != stun.BindingRequest {
		return
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil || len(user) <= len(s.ufrag) || string(user[:len(s.ufrag)+1]) != s.ufrag+":" {
		return
	}
	if err := stun.NewShortTermIntegrity(s.pwd).Check(m); err != nil {
		return
	}
	res, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
		&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())},
		stun.NewShortTermIntegrity(s.pwd), stun.Fingerprint)
	if err != nil {
		return
	}
	_, _ = s.writeTo(res.Raw, from)
	if m.Contains(stun.AttrUseCandidate) {
		s.mu.Lock()
		first := !s.nominateOK
		s.nominateOK = true
		s.mu.Unlock()
		if first {
			s.nominated <- from
		}
	}
}

// checkLoop sends connectivity checks to the server (as the controlled agent) until it
// nominates a pair, as browsers do: a check from us makes the server check back at once
// instead of on its next pacing tick, which saves a few hundred milliseconds per join.
func (s *Subscriber) checkLoop() {
	defer s.wg.Done()
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	var tie [8]byte
	_, _ = rand.Read(tie[:])
	var prio [4]byte
	binary.BigEndian.PutUint32(prio[:], 2130706431) // host candidate, as in the trickled one
	for range 200 {
		select {
		case <-s.closed:
			return
		case <-t.C:
		}
		s.mu.Lock()
		server, ufrag, pwd, done := s.server, s.remoteUfr, s.remotePwd, s.nominateOK
		s.mu.Unlock()
		if done {
			return
		}
		if !server.IsValid() || ufrag == "" {
			continue
		}
		m, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(ufrag+":"+s.ufrag),
			stun.RawAttribute{Type: stun.AttrPriority, Value: prio[:]},
			stun.RawAttribute{Type: stun.AttrICEControlled, Value: tie[:]},
			stun.NewShortTermIntegrity(pwd), stun.Fingerprint)
		if err == nil {
			_, _ = s.writeTo(m.Raw, server)
		}
	}
}

// handshake runs DTLS as the client towards addr and sets up SRTP decryption.
func (s *Subscriber) handshake(ctx context.Context, addr netip.AddrPort) error {
	cfg := s.p.Cert.dtls
	conn, err := dtls.Client(&dtlsPacketConn{s: s, remote: addr}, net.UDPAddrFromAddrPort(addr), &cfg)
	if err != nil {
		return fmt.Errorf("leansub: dtls: %w", err)
	}
	s.mu.Lock()
	s.dtlsConn = conn
	s.mu.Unlock()
	if err := conn.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("leansub: dtls handshake: %w", err)
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return errors.New("leansub: dtls: no connection state")
	}
	profile, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return errors.New("leansub: dtls: no SRTP profile negotiated")
	}
	sc := srtp.Config{Profile: srtp.ProtectionProfile(profile)}
	if err := sc.ExtractSessionKeysFromDTLS(&state, true); err != nil {
		return fmt.Errorf("leansub: srtp keys: %w", err)
	}
	c, err := srtp.CreateContext(sc.Keys.RemoteMasterKey, sc.Keys.RemoteMasterSalt, sc.Profile)
	if err != nil {
		return fmt.Errorf("leansub: srtp: %w", err)
	}
	s.srtpCtx.Store(c)
	return nil
}

// dtlsPacketConn is the DTLS client's view of the subscriber's socket: it reads the DTLS
// records udpLoop passes on and writes to the server.
type dtlsPacketConn struct {
	s        *Subscriber
	remote   netip.AddrPort
	deadline atomic.Int64 // unix nanos, 0: none
}

func (c *dtlsPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	var timeout <-chan time.Time
	if d := c.deadline.Load(); d != 0 {
		t := time.NewTimer(time.Until(time.Unix(0, d)))
		defer t.Stop()
		timeout = t.C
	}
	select {
	case d := <-c.s.dtlsIn:
		return copy(b, d), net.UDPAddrFromAddrPort(c.remote), nil
	case <-c.s.closed:
		return 0, nil, net.ErrClosed
	case <-timeout:
		return 0, nil, timeoutError{}
	}
}

func (c *dtlsPacketConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	return c.s.writeTo(b, c.remote)
}

func (c *dtlsPacketConn) Close() error        { return nil }
func (c *dtlsPacketConn) LocalAddr() net.Addr { return net.UDPAddrFromAddrPort(c.s.local) }
func (c *dtlsPacketConn) SetDeadline(t time.Time) error {
	return c.SetReadDeadline(t)
}

func (c *dtlsPacketConn) SetReadDeadline(t time.Time) error {
	if t.IsZero() {
		c.deadline.Store(0)
	} else {
		c.deadline.Store(t.UnixNano())
	}
	return nil
}
func (c *dtlsPacketConn) SetWriteDeadline(time.Time) error { return nil }

type timeoutError struct{}

func (timeoutError) Error() string   { return "leansub: read timeout" }
func (timeoutError) Timeout() bool   { return true }
func (timeoutError) Temporary() bool { return true }
