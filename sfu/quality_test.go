package sfu_test

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestConnectionQuality: SDKs get connection_quality updates; on loopback every participant
// is EXCELLENT.
func TestConnectionQuality(t *testing.T) {
	srv := sfutest.Serve(t)
	got := make(chan *livekit.ConnectionQualityInfo, 16)
	cb := &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnConnectionQualityChanged: func(u *livekit.ConnectionQualityInfo, p lksdk.Participant) {
			if p.Identity() == "alice" {
				select {
				case got <- u:
				default:
				}
			}
		},
	}}
	alice := join(t, srv, "r", "alice", nil)
	join(t, srv, "r", "bob", cb)
	publishSynth(t, alice, opusCap, "mic")
	select {
	case u := <-got:
		if u.Quality != livekit.ConnectionQuality_EXCELLENT || u.Score < 4 {
			t.Errorf("alice's quality on loopback = %s (score %.2f), want EXCELLENT", u.Quality, u.Score)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no connection_quality update for alice")
	}
}
