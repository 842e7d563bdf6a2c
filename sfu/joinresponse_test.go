package sfu_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestJoinResponseDetails checks what SDKs read from the JoinResponse beyond ids: TURN
// credentials, ping settings, codecs, permissions, subscriber_primary.
func TestJoinResponseDetails(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) {
		c.TURN = sfu.TURNConfig{URLs: []string{"turn:127.0.0.1:3478?transport=udp"}, Secret: "turn-secret", TTL: time.Hour}
		c.Signal.PingInterval, c.Signal.PingTimeout = 5*time.Second, 15*time.Second
	}))
	c := mustDialRaw(t, srv, "r", "alice")
	j := c.join
	if len(j.IceServers) != 1 || j.IceServers[0].Urls[0] != "turn:127.0.0.1:3478?transport=udp" {
		t.Fatalf("ice_servers = %v, want the configured TURN URL", j.IceServers)
	}
	user, pass := j.IceServers[0].Username, j.IceServers[0].Credential
	if id, err := turncred.Verify(user, time.Now()); err != nil || id != "alice" || pass != turncred.Password("turn-secret", user) {
		t.Errorf("TURN credentials %q/%q: identity %q err %v, want valid credentials for alice", user, pass, id, err)
	}
	if j.PingInterval != 5 || j.PingTimeout != 15 {
		t.Errorf("ping interval/timeout = %d/%d, want 5/15", j.PingInterval, j.PingTimeout)
	}
	if !j.SubscriberPrimary {
		t.Errorf("subscriber_primary = false for a subscriber")
	}
	var mimes []string
	for _, c := range j.Room.EnabledCodecs {
		mimes = append(mimes, c.Mime)
	}
	if got := strings.Join(mimes, ","); !strings.Contains(got, "video/H264") || !strings.Contains(got, "video/VP8") || !strings.Contains(got, "audio/opus") {
		t.Errorf("enabled codecs = %s, want opus, VP8 and H.264", got)
	}
	if j.Room.CreationTime == 0 || j.Participant.JoinedAt == 0 || j.Participant.Permission == nil || !j.Participant.Permission.CanPublish {
		t.Errorf("room/participant details missing: %v / %v", j.Room, j.Participant)
	}
	if j.ServerVersion != sfu.LiveKitVersion {
		t.Errorf("server_version = %q, want %q", j.ServerVersion, sfu.LiveKitVersion)
	}

	viewer, _, err := dialRaw(t, srv, srv.Token("r", "viewer", sfutest.CanSubscribe(false)))
	if err != nil {
		t.Fatal(err)
	}
	if viewer.join.SubscriberPrimary || viewer.join.Participant.Permission.CanSubscribe {
		t.Errorf("canSubscribe=false participant: subscriber_primary %v, permission %v", viewer.join.SubscriberPrimary, viewer.join.Participant.Permission)
	}
}

// TestUpdatesAndRoomUpdate: participant updates carry increasing versions and room_update
// follows joins.
func TestUpdatesAndRoomUpdate(t *testing.T) {
	srv := sfutest.Serve(t)
	watcher := mustDialRaw(t, srv, "r", "watcher")
	bob := mustDialRaw(t, srv, "r", "bob")
	var versions []uint32
	collect := func(r *livekit.SignalResponse) bool {
		for _, p := range r.GetUpdate().GetParticipants() {
			if p.Identity == "bob" {
				versions = append(versions, p.Version)
				if p.State == livekit.ParticipantInfo_DISCONNECTED {
					return true
				}
			}
		}
		return false
	}
	// Joins are announced at once; the room_update with the new count follows, coalesced.
	sawRoomUpdate := watcher.readUntil(5*time.Second, func(r *livekit.SignalResponse) bool {
		collect(r)
		return r.GetRoomUpdate().GetRoom().GetNumParticipants() == 2
	}) != nil
	bob.send(&livekit.SignalRequest{Message: &livekit.SignalRequest_Leave{Leave: &livekit.LeaveRequest{}}})
	watcher.readUntil(5*time.Second, collect)
	if len(versions) < 2 {
		t.Fatalf("watcher saw bob's versions %v, want a join and a DISCONNECTED update", versions)
	}
	for i := 1; i < len(versions); i++ {
		if versions[i] <= versions[i-1] {
			t.Errorf("bob's versions %v are not increasing", versions)
		}
	}
	if !sawRoomUpdate {
		t.Errorf("no room_update with 2 participants after bob joined")
	}
}

func TestMaxParticipantsAndV1(t *testing.T) {
	srv := sfutest.Serve(t, sfutest.WithConfig(func(c *sfu.Config) { c.Room.MaxParticipants = 2; c.Signal.SinglePC = false }))
	mustDialRaw(t, srv, "r", "a")
	mustDialRaw(t, srv, "r", "b")
	if _, status, err := dialRaw(t, srv, srv.Token("r", "c")); err == nil || status != http.StatusForbidden {
		t.Errorf("third participant: status %d err %v, want 403", status, err)
	}
	// The same identity replaces itself and always fits.
	mustDialRaw(t, srv, "r", "b")
	for _, path := range []string{"/rtc/v1", "/rtc/v1/validate"} {
		if code := status(t, srv.HTTPURL()+path+"?access_token="+srv.Token("r", "x")); code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, code)
		}
	}
}
