package sfu_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

type inbox struct {
	mu   sync.Mutex
	msgs []string // "sender:payload"
}

func (b *inbox) callback() *lksdk.RoomCallback {
	return &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnDataPacket: func(d lksdk.DataPacket, p lksdk.DataReceiveParams) {
			if u, ok := d.(*lksdk.UserDataPacket); ok {
				b.mu.Lock()
				b.msgs = append(b.msgs, p.SenderIdentity+":"+string(u.Payload))
				b.mu.Unlock()
			}
		},
	}}
}

func (b *inbox) has(m string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, x := range b.msgs {
		if x == m {
			return true
		}
	}
	return false
}

// TestData: reliable and lossy packets are relayed with the sender stamped, destination
// identities are honoured, and canPublishData=false is enforced.
func TestData(t *testing.T) {
	srv := sfutest.Serve(t)
	var bobIn, carolIn inbox
	alice := join(t, srv, "r", "alice", nil)
	join(t, srv, "r", "bob", bobIn.callback())
	join(t, srv, "r", "carol", carolIn.callback())
	mute := join(t, srv, "r", "mute", nil, sfutest.CanPublishData(false))
	eventually(t, 5*time.Second, "everyone to see everyone", func() bool { return len(alice.GetRemoteParticipants()) == 3 })

	send := func(r *lksdk.Room, payload string, opts ...lksdk.DataPublishOption) {
		t.Helper()
		if err := r.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte(payload)), opts...); err != nil {
			t.Fatalf("PublishDataPacket(%q): %v", payload, err)
		}
	}
	send(alice, "reliable-all", lksdk.WithDataPublishReliable(true))
	send(alice, "to-bob", lksdk.WithDataPublishReliable(true), lksdk.WithDataPublishDestination([]string{"bob"}))
	eventually(t, 5*time.Second, "reliable packets", func() bool {
		return bobIn.has("alice:reliable-all") && carolIn.has("alice:reliable-all") && bobIn.has("alice:to-bob")
	})
	// Lossy packets may be dropped on a real network, never on loopback: send a few.
	for i := 0; i < 5; i++ {
		send(alice, fmt.Sprintf("lossy-%d", i), lksdk.WithDataPublishReliable(false))
	}
	eventually(t, 5*time.Second, "lossy packets", func() bool { return bobIn.has("alice:lossy-4") && carolIn.has("alice:lossy-4") })

	_ = mute.LocalParticipant.PublishDataPacket(lksdk.UserData([]byte("denied")), lksdk.WithDataPublishReliable(true))
	// A marker sent after the denied packet on the same ordered path shows it was dropped
	// rather than still in flight.
	send(alice, "marker", lksdk.WithDataPublishReliable(true))
	eventually(t, 5*time.Second, "marker", func() bool { return bobIn.has("alice:marker") })
	time.Sleep(300 * time.Millisecond)
	if carolIn.has("alice:to-bob") {
		t.Errorf("carol received a packet addressed to bob")
	}
	if bobIn.has("mute:denied") || carolIn.has("mute:denied") {
		t.Errorf("a packet from a participant without canPublishData was relayed")
	}
}
