package media

import (
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// FuzzWriteRTP feeds arbitrary bytes as RTP from a publisher (untrusted)
// through the buffer, fan-out and a subscriber, and arbitrary RTCP from the
// subscriber: nothing may panic.
func FuzzWriteRTP(f *testing.F) {
	good, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 7, SSRC: 1000}, Payload: []byte{0x90, 0xe0, 0x81, 0x02, 0x33, 0x00}}).Marshal()
	padded, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, Padding: true, PaddingSize: 3, SequenceNumber: 8}, Payload: []byte{0x10}}).Marshal()
	for _, seed := range [][]byte{good, padded, {0x80}, {0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff}, {0x90, 0x60, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xbe, 0xde, 0, 9}} {
		f.Add(seed, []byte{0x81, 0xcd, 0x00, 0x03, 0, 0, 0, 0, 0, 0, 0, 77, 0, 7, 0xff, 0xff})
	}
	f.Fuzz(func(t *testing.T, raw, fb []byte) {
		g := newRig(t, ReceiverParams{TrackID: "TR_fuzz"})
		g.r.AddLayer("", 1000)
		dt, _ := g.subscribe(77, 96, nil, true)
		l, _ := g.r.layer(0)
		_ = g.r.write(l, raw, 1)
		raw2 := append([]byte(nil), raw...)
		if len(raw2) > 3 {
			raw2[3]++ // the next sequence number
		}
		_ = g.r.write(l, raw2, 2)
		if pkts, err := rtcp.Unmarshal(fb); err == nil {
			dt.HandleRTCP(pkts)
		}
		_ = g.r.Stats()
		_ = dt.Stats()
	})
}
