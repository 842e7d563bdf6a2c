package sfu

import (
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/pkg/relaywire"
)

// BenchmarkRelayLinkPacket is the CPU the link adds per relayed RTP packet, both ends
// together, on top of what any subscriber write and any publisher packet cost (the relay
// sink is a DownTrack, the relay-side receiver a Receiver): on the sending node the frame
// is built, sealed (AES-256-GCM) and sent (one sendto); on the receiving node it is read
// (one recvfrom), its sender looked up, opened and parsed. docs/relay.md uses the figure.
func BenchmarkRelayLinkPacket(b *testing.B) {
	master := make([]byte, 32)
	recv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer recv.Close()
	_ = recv.SetReadBuffer(4 << 20)
	send, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer send.Close()
	svc := &relayService{s: &Server{cfg: Config{NodeID: "sfu-a"}}, master: master, session: 1, udp: send,
		sealers: map[string]*relaywire.Sealer{}, addrs: map[string]*net.UDPAddr{"sfu-b": recv.LocalAddr().(*net.UDPAddr)},
		m: relayMetrics{packetsOut: prometheus.NewCounter(prometheus.CounterOpts{Name: "x"})}}
	sk := &relaySink{svc: svc, key: sinkKey{peer: "sfu-b", track: "TR_VCabcdefghijkl", layer: 2}}
	sk.pool.New = func() any { buf := make([]byte, 0, 2048); return &buf }
	opener, err := relaywire.NewOpener(master, "sfu-b", "sfu-a")
	if err != nil {
		b.Fatal(err)
	}
	pkt := make([]byte, 1200)
	pkt[0] = 0x80
	in := make([]byte, 2048)
	plain := make([]byte, 0, 2048)
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	// CPU time (user + system, this process) per packet: wall time on a shared machine is
	// mostly waiting for the other end to be scheduled.
	cpu := func() time.Duration {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	start := cpu()
	n := 0
	for i := 0; b.Loop(); i++ {
		n++
		pkt[2], pkt[3] = byte(i>>8), byte(i)
		if _, err := sk.Write(pkt); err != nil {
			b.Fatal(err)
		}
		n, _, err := recv.ReadFromUDP(in)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := relaywire.SenderBytes(in[:n]); err != nil {
			b.Fatal(err)
		}
		p, err := opener.Open(plain[:0], in[:n])
		if err != nil {
			b.Fatal(err)
		}
		if _, _, _, _, err := relaywire.ParseMedia(p); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpu()-start)/float64(n), "cpu-ns/op")
}
