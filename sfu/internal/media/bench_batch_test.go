package media

import (
	"net"
	"runtime"
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

// benchSendPath measures the SFU's CPU time per subscriber write through
// pion, as production runs it: one muxed UDP socket for all subscriber
// PeerConnections (optionally batched with udpbatch), the SFU's
// interceptors, SRTP, and n pion clients reading on loopback. The fan-out
// runs inline on the benchmark goroutine, locked to its OS thread, whose CPU
// time (RUSAGE_THREAD, system calls included) is the figure: the clients'
// work on other threads is not counted.
func benchSendPath(b *testing.B, n int, batch bool) {
	t := &testing.T{}
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	var conn net.PacketConn = uc
	var batcher Batcher
	if batch {
		bc := udpbatch.New(uc, udpbatch.Params{})
		conn, batcher = bc, bc
	}
	mux := ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: conn})
	defer func() { _ = mux.Close() }()
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
	defer r.Close()
	r.AddLayer("", 1000)
	var pcs []*webrtc.PeerConnection
	defer func() {
		for _, pc := range pcs {
			_ = pc.Close()
		}
	}()
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
		sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
			buf := make([]byte, 1500)
			for {
				if _, _, err := tr.Read(buf); err != nil {
					return
				}
			}
		})
		negotiateB(b, &testing.T{}, out, sub)
	}

	payload := make([]byte, 1100)
	payload[0] = 0x10
	raw, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: 1000, PayloadType: 96}, Payload: payload}).Marshal()
	seq := uint16(0)
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
		if seq%4 == 0 {
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
