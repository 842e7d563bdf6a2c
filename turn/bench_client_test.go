package turn_test

import (
	"net"
	"time"

	"github.com/pion/logging"
	pionturn "github.com/pion/turn/v5"
)

// benchClient is newClient for benchmarks (no *testing.T): a UDP TURN client, listening.
func benchClient(addr, user, pass string) (*pionturn.Client, net.PacketConn, error) {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	lf := logging.NewDefaultLoggerFactory()
	lf.DefaultLogLevel = logging.LogLevelError
	c, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: user, Password: pass, RTO: 200 * time.Millisecond, LoggerFactory: lf,
	})
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	if err := c.Listen(); err != nil {
		c.Close()
		_ = conn.Close()
		return nil, nil, err
	}
	return c, conn, nil
}
