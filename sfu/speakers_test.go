package sfu_test

import (
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestActiveSpeakers: a publisher whose packets carry a loud audio level becomes the active
// speaker; one that goes silent stops being one.
func TestActiveSpeakers(t *testing.T) {
	srv := sfutest.Serve(t)
	speakers := make(chan []string, 32)
	cb := &lksdk.RoomCallback{OnActiveSpeakersChanged: func(ps []lksdk.Participant) {
		ids := []string{}
		for _, p := range ps {
			ids = append(ids, p.Identity())
		}
		select {
		case speakers <- ids:
		default:
		}
	}}
	alice := join(t, srv, "r", "alice", nil)
	quiet := join(t, srv, "r", "quiet", nil)
	join(t, srv, "r", "bob", cb)
	loud := publishSynth(t, alice, opusCap, "mic")
	loud.audioLevel.Store(1 + 20) // -20 dBov: speech
	silent := publishSynth(t, quiet, opusCap, "mic")
	silent.audioLevel.Store(1 + 127)

	wait := func(want []string) {
		t.Helper()
		deadline := time.After(5 * time.Second)
		for {
			select {
			case got := <-speakers:
				if len(got) == len(want) && (len(want) == 0 || got[0] == want[0]) {
					return
				}
			case <-deadline:
				t.Fatalf("active speakers never became %v", want)
			}
		}
	}
	wait([]string{"alice"})
	loud.audioLevel.Store(1 + 127)
	wait([]string{})
}
