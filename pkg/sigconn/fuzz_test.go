package sigconn

import (
	"testing"

	"github.com/livekit/protocol/livekit"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// FuzzDecodeFrame: signal frames are client-written. Decoding never panics, and whatever
// decodes survives a marshal round trip unchanged (what the server acts on is what it read).
func FuzzDecodeFrame(f *testing.F) {
	for _, m := range []*livekit.SignalRequest{
		{Message: &livekit.SignalRequest_Ping{Ping: 42}},
		{Message: &livekit.SignalRequest_Offer{Offer: &livekit.SessionDescription{Type: "offer", Sdp: "v=0\r\n"}}},
		{Message: &livekit.SignalRequest_UpdateMetadata{UpdateMetadata: &livekit.UpdateParticipantMetadata{Metadata: "m", Name: "n"}}},
		{Message: &livekit.SignalRequest_Trickle{Trickle: &livekit.TrickleRequest{CandidateInit: `{"candidate":"x"}`}}},
	} {
		b, _ := proto.Marshal(m)
		f.Add(true, b)
		j, _ := protojson.Marshal(m)
		f.Add(false, j)
	}
	f.Add(true, []byte{0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add(false, []byte(`{"ping":"1","unknownField":{"deep":[[[[]]]]}}`))
	f.Fuzz(func(t *testing.T, binary bool, data []byte) {
		req, err := decodeFrame(binary, data)
		if err != nil {
			return
		}
		det := proto.MarshalOptions{Deterministic: true}
		b, err := det.Marshal(req)
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		again := &livekit.SignalRequest{}
		if err := proto.Unmarshal(b, again); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if b2, _ := det.Marshal(again); string(b2) != string(b) {
			t.Fatal("round trip changed the request")
		}
	})
}
