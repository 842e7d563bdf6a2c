package media

import (
	"net"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/atrium-live/atrium/sfu/internal/udpbatch"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// threadCPU is the CPU time (user + system) of the calling OS thread.
func threadCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func newSendPath(b testing.TB, n int, batch bool) *sendPath {
	t := &testing.T{}
	sp := &sendPath{}
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	var conn net.PacketConn = uc
	var batcher Batcher
	if batch {
		bc := udpbatch.New(uc, udpbatch.Params{})
		conn, batcher = bc, bc
		sp.batch = bc
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	b.Cleanup(func() { _ = mux.Close() })
	m := &webrtc.MediaEngine{}
	reg := &interceptor.Registry{}
	if err := ConfigureMediaEngine(m); err != nil {
		b.Fatal(err)
	}
	if err := ConfigureInterceptors(m, reg, nil); err != nil {
		b.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetICEUDPMux(mux)
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	sfuAPI := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))

	r := NewReceiver(ReceiverParams{TrackID: "TR_bench", Kind: webrtc.RTPCodecTypeVideo, Codec: vp8Codec,
		Fanout: FanoutParams{Workers: -1}, Batch: batcher})
	b.Cleanup(r.Close)
	r.AddLayer("", 1000)
	var pcs []*webrtc.PeerConnection
	b.Cleanup(func() {
		for _, pc := range pcs {
			_ = pc.Close()
		}
	})
	var dts []*DownTrack
	for range n {
		out, err := sfuAPI.NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		sub, err := newAPI(t, false, nil).NewPeerConnection(webrtc.Configuration{})
		if err != nil {
			b.Fatal(err)
		}
		pcs = append(pcs, out, sub)
		dt, err := r.Subscribe(DownTrackParams{Codecs: Codecs(webrtc.RTPCodecTypeVideo)})
		if err != nil {
			b.Fatal(err)
		}
		dts = append(dts, dt)
		tx, err := out.AddTransceiverFromTrack(dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			b.Fatal(err)
		}
		dt.SetTransport(tx.Sender().Transport())
		go func() {
			for {
				pkts, _, err := tx.Sender().ReadRTCP()
				if err != nil {
					return
				}
				dt.HandleRTCP(pkts)
			}
		}()
		got := &atomic.Int64{}
		sp.got = append(sp.got, got)
		sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			buf := make([]byte, 1500)
			for {
				n, _, err := tr.Read(buf)
				if err != nil {
					return
				}
				if n >= 12+1100 { // a media packet (header extensions vary), not padding
					got.Add(1)
				}
			}
		})
		negotiateTB(b, out, sub)
	}

	payload := make([]byte, 1100)
	payload[0] = 0x10
	raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1000, PayloadType: 96}, Payload: payload}).Marshal()
	var seq uint16
	write := func() {
		seq++
		raw[2], raw[3] = byte(seq>>8), byte(seq)
		ts := uint32(seq/3) * 3000
		raw[4], raw[5], raw[6], raw[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
		_ = r.WriteRTP(0, raw, time.Now())
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		write()
		time.Sleep(2 * time.Millisecond)
		started := 0
		for _, dt := range dts {
			if dt.Stats().Packets > 0 {
				started++
			}
		}
		if started == n {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d subscribers started within 10 s", started, n)
		}
	}
	raw[len(raw)-1100+1] = 0x01 // inter frames from now on
	sp.r, sp.dts, sp.write, sp.seq = r, dts, write, &seq
	return sp
}

// sendPath is a Receiver feeding n pion subscribers over one muxed socket.
type sendPath struct {
	r     *Receiver
	dts   []*DownTrack
	got   []*atomic.Int64 // media packets each subscriber read
	batch *udpbatch.Conn  // nil: plain socket
	write func()
	seq   *uint16
}

// benchSendPath measures the SFU's CPU time per subscriber write through
// pion, as production runs it: one muxed UDP socket for all subscriber
// PeerConnections (optionally batched with udpbatch), the SFU's
// interceptors, SRTP, and n pion clients reading on loopback. The fan-out
// runs inline on the benchmark goroutine, locked to its OS thread, whose CPU
// time (RUSAGE_THREAD, system calls included) is the figure: the clients'
// work on other threads is not counted.
func benchSendPath(b *testing.B, n int, batch bool) {
	sp := newSendPath(b, n, batch)
	dts, write, seq := sp.dts, sp.write, sp.seq
	for range 200 {
		write()
		time.Sleep(time.Millisecond)
	}
	before := make([]uint64, n)
	for i, dt := range dts {
		before[i] = dt.Stats().Packets
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ResetTimer()
	cpu0 := threadCPU(b)
	for b.Loop() {
		write()
		if *seq%4 == 0 {
			// Pace at about 1000 packets/s per subscriber so the clients
			// keep up (sleeping costs this thread no CPU time).
			time.Sleep(2 * time.Millisecond)
		}
	}
	cpu := threadCPU(b) - cpu0
	b.StopTimer()
	var written uint64
	for i, dt := range dts {
		written += dt.Stats().Packets - before[i]
	}
	if written < uint64(b.N*n)*9/10 {
		b.Fatalf("wrote %d packets to subscribers, want about %d", written, b.N*n)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(written), "cpu-ns/subscriber-write")
}

// BenchmarkSendPath20 / BenchmarkSendPath20Batched: one packet to 20 pion
// subscribers over one muxed socket, one sendto per subscriber vs one
// sendmmsg per packet.
func BenchmarkSendPath20(b *testing.B)        { benchSendPath(b, 20, false) }
func BenchmarkSendPath20Batched(b *testing.B) { benchSendPath(b, 20, true) }

// TestSendPathBatched: through pion and a batched muxed socket, every
// subscriber gets the packets, and they left in sendmmsg batches.
func TestSendPathBatched(t *testing.T) {
	sp := newSendPath(t, 3, true)
	before := make([]int64, len(sp.got))
	for i, g := range sp.got {
		before[i] = g.Load()
	}
	const n = 300
	for i := range n {
		sp.write()
		if i%10 == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; {
		short := 0
		for i, g := range sp.got {
			if g.Load()-before[i] < n*95/100 {
				short++
			}
		}
		if short == 0 {
			break
		}
		if time.Now().After(deadline) {
			for i, g := range sp.got {
				t.Errorf("subscriber %d read %d of %d packets", i, g.Load()-before[i], n)
			}
			t.FailNow()
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st := sp.batch.Stats(); st.Batched < 3*n*9/10 || st.Batches == 0 || st.Errors != 0 {
		t.Errorf("udpbatch stats %+v: want the fan-out's datagrams sent in batches", st)
	}
}

// negotiateTB is negotiate for tests and benchmarks alike.
func negotiateTB(tb testing.TB, offerer, answerer *webrtc.PeerConnection) {
	if t, ok := tb.(*testing.T); ok {
		negotiate(t, offerer, answerer)
		return
	}
	negotiateB(tb.(*testing.B), &testing.T{}, offerer, answerer)
}
