package sfu_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestAddTrackEncryption: the encryption a publisher declares in add_track (livekit-client
// sends GCM with end-to-end encryption on) is kept in the TrackInfo the server returns, so
// every client learns the track is encrypted (tests/browser/e2ee_test.go checks what
// subscribers see).
func TestAddTrackEncryption(t *testing.T) {
	srv := sfutest.Serve(t)
	c := mustDialRaw(t, srv, "r", "pub")
	for _, e := range []livekit.Encryption_Type{livekit.Encryption_GCM, livekit.Encryption_NONE, livekit.Encryption_CUSTOM} {
		cid := "cid-" + e.String()
		c.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_AddTrack{AddTrack: &livekit.AddTrackRequest{
			Cid: cid, Type: livekit.TrackType_VIDEO, Source: livekit.TrackSource_CAMERA, Encryption: e,
		}}})
		res := c.readUntil(3*time.Second, func(r *livekit.SignalResponse) bool {
			return r.GetTrackPublished().GetCid() == cid
		})
		if got := res.GetTrackPublished().GetTrack().GetEncryption(); res == nil || got != e {
			t.Errorf("add_track with encryption %v: track_published says %v (%v)", e, got, res)
		}
	}
}
