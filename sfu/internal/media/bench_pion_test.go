package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// BenchmarkFanoutPion is BenchmarkFanout1 with a real subscriber
// PeerConnection on loopback: the DownTrack's writes go through pion's
// interceptors (RTCP reports, the Estimator's TWCC sequence numbers) and SRTP
// to a UDP socket, and a pion client reads them. It shows what the media path
// costs in production, pion included. The allocations it reports are the
// pion client's receive path (its NACK generator and TWCC recorder parse
// every packet's header into a new object); the SFU's send path allocates
// nothing (see the memory profile: -memprofile). At this unrealistic packet rate
// the client's TWCC feedback can exceed the MTU, which pion logs as "mux:
// failed to read ... short buffer"; that is the benchmark, not the SFU.
func BenchmarkFanoutPion(b *testing.B) {
	t := &testing.T{}
	sfuAPI := newAPI(t, true, nil)
	r := NewReceiver(ReceiverParams{TrackID: "TR_bench", Kind: webrtc.RTPCodecTypeVideo, Codec: vp8Codec})
	defer r.Close()
	r.AddLayer("", 1000)
	sfuOut, err := sfuAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Fatal(err)
	}
	defer sfuOut.Close()
	sub, err := newAPI(t, false, nil).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		b.Fatal(err)
	}
	defer sub.Close()
	dt, err := r.Subscribe(DownTrackParams{Codecs: Codecs(webrtc.RTPCodecTypeVideo)})
	if err != nil {
		b.Fatal(err)
	}
	tx, err := sfuOut.AddTransceiverFromTrack(dt, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
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
	received := make(chan struct{}, 1)
	sub.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		buf := make([]byte, 1500)
		select {
		case received <- struct{}{}:
		default:
		}
		for {
			if _, _, err := tr.Read(buf); err != nil {
				return
			}
		}
	})
	bt := &testing.T{}
	negotiateB(b, bt, sfuOut, sub)

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
	deadline := time.Now().Add(5 * time.Second)
	for dt.Stats().Packets == 0 && time.Now().Before(deadline) {
		write()
		time.Sleep(time.Millisecond)
	}
	<-received
	payload[1] = 0x01
	raw[len(raw)-1100+1] = 0x01 // inter frames from now on
	for i := range 2000 {
		write()
		if i%32 == 0 {
			time.Sleep(200 * time.Microsecond)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		write()
		if seq%32 == 0 {
			// Let the reading client keep up on 2 cores (ns/op includes
			// this pause; the allocation count is the figure of interest).
			time.Sleep(200 * time.Microsecond)
		}
	}
	b.StopTimer()
	if dt.Stats().Packets < uint64(b.N) {
		b.Fatalf("DownTrack wrote %d packets, want >= %d", dt.Stats().Packets, b.N)
	}
	dt.Close()
}

// negotiateB runs negotiate for a benchmark (negotiate needs a *testing.T
// for its helpers; failures are reported on b).
func negotiateB(b *testing.B, t *testing.T, offerer, answerer *webrtc.PeerConnection) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		negotiate(t, offerer, answerer)
	}()
	<-done
	if t.Failed() || offerer.ConnectionState() != webrtc.PeerConnectionStateConnected {
		b.Fatal("negotiation failed")
	}
}
