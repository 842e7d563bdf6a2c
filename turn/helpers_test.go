package turn_test

import (
	"crypto/tls"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	"github.com/pion/logging"
	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/atrium-live/atrium/sfu/sfutest"
	"github.com/atrium-live/atrium/turn"
	"github.com/atrium-live/atrium/turn/turntest"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(benchChildEnv); mode != "" {
		os.Exit(runBenchChild(mode))
	}
	// server-sdk-go logs every ICE and PeerConnection step to stdout by default; its discard
	// logger still formats pion's debug lines and races with pion, so keep errors only.
	sfutest.QuietSDK()
	goleak.VerifyTestMain(m,
		// net/http keep-alive goroutines of the default client used against /readyz.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
	)
}

// clientParams describe one TURN client of a test.
type clientParams struct {
	transport string // "udp", "tcp" or "tls"
	addr      string // relay listener address
	username  string
	password  string
	tlsConfig *tls.Config // for "tls"
}

// newClient connects a pion TURN client to the relay; it is closed when the test ends.
func newClient(t *testing.T, p clientParams) *pionturn.Client {
	t.Helper()
	var conn net.PacketConn
	switch p.transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("listen udp: %v", err)
		}
		conn = c
	case "tcp":
		c, err := net.DialTimeout("tcp", p.addr, 5*time.Second)
		if err != nil {
			t.Fatalf("dial tcp %s: %v", p.addr, err)
		}
		conn = pionturn.NewSTUNConn(c)
	case "tls":
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", p.addr, p.tlsConfig)
		if err != nil {
			t.Fatalf("dial tls %s: %v", p.addr, err)
		}
		conn = pionturn.NewSTUNConn(c)
	default:
		t.Fatalf("unknown transport %q", p.transport)
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	client, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: p.addr,
		TURNServerAddr: p.addr,
		Conn:           conn,
		Username:       p.username,
		Password:       p.password,
		RTO:            200 * time.Millisecond,
		LoggerFactory:  lf,
	})
	if err != nil {
		t.Fatalf("turn.NewClient: %v", err)
	}
	if err := client.Listen(); err != nil {
		t.Fatalf("client.Listen: %v", err)
	}
	t.Cleanup(func() {
		client.Close()
		_ = conn.Close()
	})
	return client
}

// clientFor builds a client for identity with fresh credentials over transport.
func clientFor(t *testing.T, r *turntest.Relay, transport, identity string) *pionturn.Client {
	t.Helper()
	user, pass := r.Credentials(identity, time.Hour)
	addr := r.Addrs.UDP
	if transport == "tcp" {
		addr = r.Addrs.TCP
	}
	return newClient(t, clientParams{transport: transport, addr: addr, username: user, password: pass})
}

// allocate allocates and registers the relay socket's close with the test.
func allocate(t *testing.T, c *pionturn.Client) net.PacketConn {
	t.Helper()
	rc, err := c.Allocate()
	if err != nil {
		t.Fatalf("Allocate: %v", err)
	}
	t.Cleanup(func() { _ = rc.Close() })
	return rc
}

// turnCode is the STUN error code carried by err, or 0.
func turnCode(err error) int {
	var te *stun.TurnError
	if errors.As(err, &te) {
		return int(te.ErrorCodeAttr.Code)
	}
	return 0
}

// peer is a plain UDP socket standing for the SFU (or any peer) on loopback.
func newPeer(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatalf("listen peer: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// readWithin reads one datagram or fails after d.
func readWithin(t *testing.T, c net.PacketConn, d time.Duration) ([]byte, net.Addr) {
	t.Helper()
	buf := make([]byte, 1600)
	if err := c.SetReadDeadline(time.Now().Add(d)); err != nil {
		t.Fatalf("SetReadDeadline: %v", err)
	}
	n, from, err := c.ReadFrom(buf)
	if err != nil {
		t.Fatalf("read on %s: %v", c.LocalAddr(), err)
	}
	return buf[:n], from
}

// metricValue sums the samples of a counter or gauge whose labels include want.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if !hasLabels(m, want) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	got := map[string]string{}
	for _, l := range m.GetLabel() {
		got[l.GetName()] = l.GetValue()
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// eventually polls cond every 20ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// depsWithClock returns Deps whose credential clock is now.
func depsWithClock(now func() time.Time) turn.Deps {
	return turn.Deps{Now: now}
}
