package controlplane_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/store"
	sfuconfig "github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// joinClassRoom asks the control plane for a join token and connects to the real SFU with
// it, as a client app would.
func joinClassRoom(t *testing.T, env *cptest.Env, u *cptest.User, classID string, cb *lksdk.RoomCallback) *lksdk.Room {
	t.Helper()
	var j joinResp
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/join", u.Token, nil).Want(t, 200).JSON(t, &j)
	if cb == nil {
		cb = &lksdk.RoomCallback{}
	}
	r, err := lksdk.ConnectToRoomWithToken(j.URL, j.Token, cb, lksdk.WithAutoSubscribe(false),
		lksdk.WithDisableRegionDiscovery(), lksdk.WithConnectTimeout(10*time.Second))
	if err != nil {
		t.Fatalf("%s connects to the class room: %v", u.Role, err)
	}
	t.Cleanup(r.Disconnect)
	return r
}

// publishTrack publishes a sample track and feeds it until the test ends (opus silence, or
// tiny VP8 key frames), so it is live media as far as the SFU can tell.
func publishTrack(t *testing.T, r *lksdk.Room, c webrtc.RTPCodecCapability, src livekit.TrackSource) string {
	t.Helper()
	track, err := lksdk.NewLocalSampleTrack(c)
	if err != nil {
		t.Fatalf("NewLocalSampleTrack: %v", err)
	}
	opts := &lksdk.TrackPublicationOptions{Name: src.String(), Source: src}
	frame := []byte{0xf8, 0xff, 0xfe} // Opus CELT 20 ms silence (RFC 6716 §3.1 TOC)
	if c.MimeType == webrtc.MimeTypeVP8 {
		opts.VideoWidth, opts.VideoHeight = 64, 48
		// A shown VP8 key frame (RFC 6386 §9.1): tag with a 64-byte first partition, start
		// code, 64x48, then filler.
		tag := uint32(64)<<5 | 1<<4
		frame = append([]byte{byte(tag), byte(tag >> 8), byte(tag >> 16), 0x9d, 0x01, 0x2a, 64, 0, 48, 0}, make([]byte, 96)...)
	}
	pub, err := r.LocalParticipant.PublishTrack(track, opts)
	if err != nil {
		t.Fatalf("PublishTrack(%s): %v", src, err)
	}
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = track.WriteSample(media.Sample{Data: frame, Duration: 20 * time.Millisecond}, nil)
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return pub.SID()
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// remoteMuted reports whether r sees identity's publication sid, and whether it is muted.
func remoteMuted(r *lksdk.Room, identity, sid string) (seen, muted bool) {
	rp := r.GetParticipantByIdentity(identity)
	if rp == nil {
		return false, false
	}
	for _, tp := range rp.TrackPublications() {
		if tp.SID() == sid {
			return true, tp.IsMuted()
		}
	}
	return false, false
}

// TestModeration is teacher moderation end to end: a real SFU, a control plane minting its
// tokens and calling its LiveKit RoomService, and server-sdk-go clients as the people in the
// room. Only the class's teacher (or an admin) may mute or remove; the others in the room see
// the mute, and a removed student is disconnected.
func TestModeration(t *testing.T) {
	sfutest.QuietSDK()
	sfu := sfutest.Serve(t, sfutest.WithConfig(func(c *sfuconfig.Config) {
		c.Keys = map[string]string{"moderation-key": "moderation-secret-0123456789abcdef-0123"}
	}))
	b := &bookings{booked: map[string]bool{}}
	env := cptest.Serve(t, cptest.Options{
		Deps: func(d *controlplane.Deps) { d.Bookings = b },
		Config: func(c *controlplane.Config) {
			c.LiveKit.URL, c.LiveKit.APIKey, c.LiveKit.APISecret = sfu.URL(), sfu.APIKey(), sfu.APISecret()
		},
	})
	teacher := env.NewUser(t, "teacher")
	otherTeacher := env.NewUser(t, "teacher")
	admin := env.NewUser(t, "admin")
	alice := env.NewUser(t, "student")
	bob := env.NewUser(t, "student")
	absent := env.NewUser(t, "student")
	id := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute, Duration: 30})["id"].(string)
	for _, u := range []*cptest.User{alice, bob, absent} {
		b.book(id, u.ID)
	}

	teacherRoom := joinClassRoom(t, env, teacher, id, nil)
	aliceRoom := joinClassRoom(t, env, alice, id, nil)
	removed := make(chan lksdk.DisconnectionReason, 1)
	bobRoom := joinClassRoom(t, env, bob, id, &lksdk.RoomCallback{OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) {
		select {
		case removed <- r:
		default:
		}
	}})
	mic := publishTrack(t, aliceRoom, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}, livekit.TrackSource_MICROPHONE)
	cam := publishTrack(t, aliceRoom, webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}, livekit.TrackSource_CAMERA)
	for _, sid := range []string{mic, cam} {
		waitFor(t, 10*time.Second, "the others to see alice's track "+sid+" (microphone "+mic+")", func() bool {
			s1, _ := remoteMuted(teacherRoom, alice.ID, sid)
			s2, _ := remoteMuted(bobRoom, alice.ID, sid)
			return s1 && s2
		})
	}

	mute := func(u *cptest.User, class, user, kind string) *cptest.Response {
		return env.Do(t, "POST", "/api/v1/classes/"+class+"/participants/"+user+"/mute", u.Token, map[string]string{"kind": kind})
	}
	remove := func(u *cptest.User, class, user string) *cptest.Response {
		return env.Do(t, "POST", "/api/v1/classes/"+class+"/participants/"+user+"/remove", u.Token, nil)
	}
	const unknownID = "00000000-0000-0000-0000-000000000000"

	// Refusals: nobody but the class's teacher or an admin; nothing changes in the room.
	env.Do(t, "POST", "/api/v1/classes/"+id+"/participants/"+alice.ID+"/mute", "", map[string]string{"kind": "all"}).WantError(t, 401, "unauthenticated")
	mute(bob, id, alice.ID, "all").WantError(t, 403, "forbidden")
	mute(otherTeacher, id, alice.ID, "all").WantError(t, 403, "forbidden")
	remove(alice, id, bob.ID).WantError(t, 403, "forbidden")
	remove(otherTeacher, id, bob.ID).WantError(t, 403, "forbidden")
	mute(teacher, id, alice.ID, "loud").WantError(t, 422, "validation_failed")
	// Not in the room: a booked student who never connected, a stranger, an unknown class.
	mute(teacher, id, absent.ID, "all").WantError(t, 404, "not_found")
	mute(teacher, id, unknownID, "audio").WantError(t, 404, "not_found")
	remove(teacher, id, absent.ID).WantError(t, 404, "not_found")
	mute(teacher, unknownID, alice.ID, "all").WantError(t, 404, "not_found")
	if _, muted := remoteMuted(teacherRoom, alice.ID, mic); muted {
		t.Fatal("a refused call muted alice's microphone")
	}

	// The teacher mutes alice's audio: everyone else sees the microphone muted, the camera not.
	var res struct {
		Kind        string   `json:"kind"`
		MutedTracks []string `json:"muted_tracks"`
	}
	mute(teacher, id, alice.ID, "audio").Want(t, 200).JSON(t, &res)
	if res.Kind != "audio" || !slices.Equal(res.MutedTracks, []string{mic}) {
		t.Errorf("mute audio answered %+v, want the microphone %s only", res, mic)
	}
	for name, r := range map[string]*lksdk.Room{"teacher": teacherRoom, "bob": bobRoom} {
		waitFor(t, 5*time.Second, name+" to see alice's microphone muted", func() bool { _, m := remoteMuted(r, alice.ID, mic); return m })
		if _, m := remoteMuted(r, alice.ID, cam); m {
			t.Errorf("%s sees alice's camera muted after an audio mute", name)
		}
	}
	if lp := aliceRoom.LocalParticipant.GetTrackPublication(livekit.TrackSource_MICROPHONE); lp == nil || !lp.IsMuted() {
		waitFor(t, 5*time.Second, "alice to learn her microphone was muted", func() bool {
			lp := aliceRoom.LocalParticipant.GetTrackPublication(livekit.TrackSource_MICROPHONE)
			return lp != nil && lp.IsMuted()
		})
	}

	// An admin may moderate any class: video mutes the camera.
	mute(admin, id, alice.ID, "video").Want(t, 200).JSON(t, &res)
	if !slices.Equal(res.MutedTracks, []string{cam}) {
		t.Errorf("mute video muted %v, want the camera %s", res.MutedTracks, cam)
	}
	waitFor(t, 5*time.Second, "bob to see alice's camera muted", func() bool { _, m := remoteMuted(bobRoom, alice.ID, cam); return m })

	// Removing bob disconnects him, and the others see him leave.
	remove(teacher, id, bob.ID).Want(t, 200)
	select {
	case r := <-removed:
		if r != lksdk.ParticipantRemoved {
			t.Errorf("bob disconnected with %q, want %q", r, lksdk.ParticipantRemoved)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob was not disconnected")
	}
	waitFor(t, 5*time.Second, "the teacher to see bob leave", func() bool { return teacherRoom.GetParticipantByIdentity(bob.ID) == nil })
	remove(teacher, id, bob.ID).WantError(t, 404, "not_found")

	// Every moderation is audited with its actor.
	ctx := context.Background()
	muted, err := env.Server.Store.ListAudit(ctx, store.AuditFilter{Action: "class.participant_muted", TargetID: alice.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(muted) != 2 || muted[0].ActorID != admin.ID || muted[1].ActorID != teacher.ID || muted[1].Details["class_id"] != id || muted[1].Details["kind"] != "audio" {
		t.Errorf("mute audit = %+v, want the admin's and the teacher's mutes", muted)
	}
	rm, err := env.Server.Store.ListAudit(ctx, store.AuditFilter{Action: "class.participant_removed", TargetID: bob.ID, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(rm) != 1 || rm[0].ActorID != teacher.ID || rm[0].Details["class_id"] != id {
		t.Errorf("remove audit = %+v", rm)
	}
}
