package turn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// listenUDP opens n sockets sharing addr with SO_REUSEPORT; the kernel spreads clients across
// them by 5-tuple, and pion reads each with its own goroutine. With port 0 the first socket
// picks the port and the others join it.
func listenUDP(ctx context.Context, addr string, n int) ([]net.PacketConn, error) {
	lc := net.ListenConfig{Control: reusePort}
	conns := make([]net.PacketConn, 0, n)
	for i := 0; i < n; i++ {
		pc, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			closeAll(conns)
			return nil, fmt.Errorf("turn: listen udp %s: %w", addr, err)
		}
		conns = append(conns, pc)
		addr = pc.LocalAddr().String()
	}
	return conns, nil
}

func reusePort(_, _ string, c syscall.RawConn) error {
	var opErr error
	if err := c.Control(func(fd uintptr) {
		opErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	}); err != nil {
		return err
	}
	return opErr
}

func closeAll(conns []net.PacketConn) {
	for _, c := range conns {
		_ = c.Close()
	}
}

// trackingListener remembers the connections it accepted so shutdown can close them: pion's
// Close closes listeners only, and a TURN-over-TCP client would otherwise keep its connection
// (and its read goroutine) forever. With idle > 0 a connection that sends nothing for that long
// is closed (pion then deletes its allocation). Safe for concurrent use.
type trackingListener struct {
	net.Listener
	idle time.Duration

	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	closed bool
}

func newTrackingListener(l net.Listener, idle time.Duration) *trackingListener {
	return &trackingListener{Listener: l, idle: idle, conns: make(map[net.Conn]struct{})}
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		_ = c.Close()
		return nil, net.ErrClosed
	}
	tc := &trackedConn{Conn: c, l: l}
	l.conns[tc] = struct{}{}
	return tc, nil
}

// closeConns closes every accepted connection still open and refuses later ones.
func (l *trackingListener) closeConns() {
	l.mu.Lock()
	l.closed = true
	conns := make([]net.Conn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

type trackedConn struct {
	net.Conn
	l    *trackingListener
	once sync.Once
}

// Read extends the idle deadline before each read: a live WebRTC client sends ICE consent
// checks every few seconds and TURN refreshes every few minutes, so silence means a dead peer.
func (c *trackedConn) Read(p []byte) (int, error) {
	if c.l.idle > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(c.l.idle)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.l.mu.Lock()
		delete(c.l.conns, c)
		c.l.mu.Unlock()
	})
	return c.Conn.Close()
}

// certReloader serves the certificate in certFile/keyFile and reloads it when either file's
// modification time changes, checking at most once per interval, so renewed certificates are
// picked up without a restart. Safe for concurrent use.
type certReloader struct {
	certFile, keyFile string
	interval          time.Duration

	mu        sync.Mutex
	cert      *tls.Certificate
	modTime   time.Time
	checkedAt time.Time
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, interval: time.Minute}
	if err := r.load(time.Now()); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *certReloader) load(now time.Time) error {
	mod, err := r.latestModTime()
	if err != nil {
		return err
	}
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("turn: load TLS certificate %s: %w", r.certFile, err)
	}
	r.cert, r.modTime, r.checkedAt = &cert, mod, now
	return nil
}

func (r *certReloader) latestModTime() (time.Time, error) {
	var latest time.Time
	for _, f := range []string{r.certFile, r.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return time.Time{}, fmt.Errorf("turn: TLS file: %w", err)
		}
		if st.ModTime().After(latest) {
			latest = st.ModTime()
		}
	}
	return latest, nil
}

// getCertificate is a tls.Config.GetCertificate. A failed reload keeps the previous
// certificate: a half-written renewal must not take the listener down.
func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	if now.Sub(r.checkedAt) >= r.interval {
		r.checkedAt = now
		if mod, err := r.latestModTime(); err == nil && !mod.Equal(r.modTime) {
			_ = r.load(now)
		}
	}
	if r.cert == nil {
		return nil, errors.New("turn: no TLS certificate loaded")
	}
	return r.cert, nil
}
