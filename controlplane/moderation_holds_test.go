package controlplane_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/pion/webrtc/v4"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/store"
	sfuconfig "github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// webhookRelay lets an SFU started before the control plane send it webhooks: the SFU is
// configured with the relay's URL, the relay forwards to the control plane once it runs.
type webhookRelay struct {
	srv    *httptest.Server
	target atomic.Pointer[url.URL]
}

func newWebhookRelay(t *testing.T) *webhookRelay {
	t.Helper()
	r := &webhookRelay{}
	proxy := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		if u := r.target.Load(); u != nil {
			pr.SetURL(u)
		}
	}, ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) {
		// The control plane stops before the SFU at the end of a test; the SFU's last
		// webhooks (leaves as it shuts down) find nobody. Answer quietly.
		w.WriteHeader(http.StatusBadGateway)
	}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if r.target.Load() == nil {
			http.Error(w, "control plane not up yet", http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, req)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *webhookRelay) to(t *testing.T, base string) {
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	r.target.Store(u)
}

// classroomStack is a real SFU sending its webhooks to a real control plane that mints its
// tokens and calls its RoomService.
func classroomStack(t *testing.T, b *bookings) *cptest.Env {
	t.Helper()
	sfutest.QuietSDK()
	relay := newWebhookRelay(t)
	sfu := sfutest.Serve(t, sfutest.WithConfig(func(c *sfuconfig.Config) {
		c.Keys = map[string]string{"holds-key": "holds-secret-0123456789abcdef-0123456789"}
		c.Webhook.URLs = []string{relay.srv.URL + "/api/v1/webhooks/livekit"}
		c.Webhook.Backoff = 100 * time.Millisecond
	}))
	env := cptest.Serve(t, cptest.Options{
		Deps: func(d *controlplane.Deps) { d.Bookings = b },
		Config: func(c *controlplane.Config) {
			c.LiveKit.URL, c.LiveKit.APIKey, c.LiveKit.APISecret = sfu.URL(), sfu.APIKey(), sfu.APISecret()
		},
	})
	relay.to(t, env.URL)
	return env
}

// waitInRoom waits until the control plane has recorded (from the SFU's webhooks) that each
// user is in the class room.
func waitInRoom(t *testing.T, env *cptest.Env, classID string, users ...*cptest.User) {
	t.Helper()
	for _, u := range users {
		waitFor(t, 15*time.Second, u.Role+" "+u.ID+"'s join webhook", func() bool {
			in, err := env.Server.Store.InRoom(context.Background(), classID, u.ID)
			return err == nil && in
		})
	}
}

func auditCount(t *testing.T, env *cptest.Env, action, target string) []store.AuditEntry {
	t.Helper()
	es, err := env.Server.Store.ListAudit(context.Background(), store.AuditFilter{Action: action, TargetID: target, Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// TestModerationHolds: a banned student is disconnected and cannot get back in; a locked room
// admits only those already in it (and the teacher and admins); mute-all mutes every student's
// microphone but not the teacher's; lower-hands clears every raised hand attribute and tells
// the room. Real SFU, real webhooks, real control plane; every action audited.
func TestModerationHolds(t *testing.T) {
	b := &bookings{booked: map[string]bool{}}
	env := classroomStack(t, b)
	teacher := env.NewUser(t, "teacher")
	otherTeacher := env.NewUser(t, "teacher")
	admin := env.NewUser(t, "admin")
	alice, bob, carol := env.NewUser(t, "student"), env.NewUser(t, "student"), env.NewUser(t, "student")
	id := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute, Duration: 30})["id"].(string)
	for _, u := range []*cptest.User{alice, bob, carol} {
		b.book(id, u.ID)
	}
	post := func(u *cptest.User, path string, body any) *cptest.Response {
		return env.Do(t, "POST", "/api/v1/classes/"+id+path, u.Token, body)
	}
	join := func(u *cptest.User) *cptest.Response { return post(u, "/join", nil) }

	var hands sync.Map // what bob heard on topic "hand"
	teacherRoom := joinClassRoom(t, env, teacher, id, nil)
	aliceRemoved := make(chan lksdk.DisconnectionReason, 1)
	aliceRoom := joinClassRoom(t, env, alice, id, &lksdk.RoomCallback{OnDisconnectedWithReason: func(r lksdk.DisconnectionReason) {
		select {
		case aliceRemoved <- r:
		default:
		}
	}})
	bobRoom := joinClassRoom(t, env, bob, id, &lksdk.RoomCallback{ParticipantCallback: lksdk.ParticipantCallback{
		OnDataPacket: func(d lksdk.DataPacket, _ lksdk.DataReceiveParams) {
			if u, ok := d.(*lksdk.UserDataPacket); ok && u.Topic == "hand" {
				hands.Store(string(u.Payload), true)
			}
		}}})
	opus := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	teacherMic := publishTrack(t, teacherRoom, opus, livekit.TrackSource_MICROPHONE)
	aliceMic := publishTrack(t, aliceRoom, opus, livekit.TrackSource_MICROPHONE)
	bobMic := publishTrack(t, bobRoom, opus, livekit.TrackSource_MICROPHONE)
	waitInRoom(t, env, id, teacher, alice, bob)
	for _, p := range []struct{ who, sid string }{{teacher.ID, teacherMic}, {alice.ID, aliceMic}, {bob.ID, bobMic}} {
		observer := teacherRoom
		if p.who == teacher.ID {
			observer = bobRoom
		}
		waitFor(t, 10*time.Second, "the room to see "+p.sid, func() bool { seen, _ := remoteMuted(observer, p.who, p.sid); return seen })
	}

	// Lock: carol (booked, not in the room) is refused; bob (in it) may rejoin; the teacher and
	// an admin get in; only the teacher or an admin may lock.
	post(bob, "/lock", map[string]bool{"locked": true}).WantError(t, 403, "forbidden")
	post(otherTeacher, "/lock", map[string]bool{"locked": true}).WantError(t, 403, "forbidden")
	post(teacher, "/lock", map[string]any{}).WantError(t, 422, "validation_failed")
	if res := post(teacher, "/lock", map[string]bool{"locked": true}).Want(t, 200).Map(t); res["locked"] != true {
		t.Fatalf("lock answered %v", res)
	}
	join(carol).WantError(t, 409, "room_locked")
	join(bob).Want(t, 200)
	join(teacher).Want(t, 200)
	var aj joinResp
	join(admin).Want(t, 200).JSON(t, &aj)
	if aj.Role != "admin" {
		t.Errorf("admin joined as %q", aj.Role)
	}
	if l := env.Do(t, "GET", "/api/v1/classes/"+id+"/lifecycle", carol.Token, nil).Want(t, 200).Map(t); l["locked"] != true || l["state"] != "open" {
		t.Errorf("lifecycle while locked = %v", l)
	}
	post(teacher, "/lock", map[string]bool{"locked": false}).Want(t, 200)
	join(carol).Want(t, 200)

	// Mute all: both students' microphones, not the teacher's; a second call mutes nothing new.
	post(alice, "/mute-all", nil).WantError(t, 403, "forbidden")
	var ma struct {
		Participants []string `json:"muted_participants"`
		Tracks       []string `json:"muted_tracks"`
	}
	post(teacher, "/mute-all", nil).Want(t, 200).JSON(t, &ma)
	slices.Sort(ma.Participants)
	slices.Sort(ma.Tracks)
	wantP, wantT := []string{alice.ID, bob.ID}, []string{aliceMic, bobMic}
	slices.Sort(wantP)
	slices.Sort(wantT)
	if !slices.Equal(ma.Participants, wantP) || !slices.Equal(ma.Tracks, wantT) {
		t.Fatalf("mute-all = %+v, want %v %v", ma, wantP, wantT)
	}
	waitFor(t, 5*time.Second, "the teacher to see alice and bob muted", func() bool {
		_, a := remoteMuted(teacherRoom, alice.ID, aliceMic)
		_, b := remoteMuted(teacherRoom, bob.ID, bobMic)
		return a && b
	})
	if _, m := remoteMuted(bobRoom, teacher.ID, teacherMic); m {
		t.Error("mute-all muted the teacher")
	}
	post(teacher, "/mute-all", nil).Want(t, 200).JSON(t, &ma)
	if len(ma.Tracks) != 0 {
		t.Errorf("second mute-all muted %v again", ma.Tracks)
	}

	// Lower hands: alice raises hers (a participant attribute); lower-hands clears it for
	// everyone to see and tells the room on topic "hand".
	aliceRoom.LocalParticipant.SetAttributes(map[string]string{"hand": time.Now().UTC().Format(time.RFC3339)})
	raised := func(r *lksdk.Room) bool {
		p := r.GetParticipantByIdentity(alice.ID)
		return p != nil && p.Attributes()["hand"] != ""
	}
	waitFor(t, 5*time.Second, "the teacher to see alice's hand", func() bool { return raised(teacherRoom) })
	post(bob, "/lower-hands", nil).WantError(t, 403, "forbidden")
	var lh struct {
		Lowered []string `json:"lowered"`
	}
	post(teacher, "/lower-hands", nil).Want(t, 200).JSON(t, &lh)
	if !slices.Equal(lh.Lowered, []string{alice.ID}) {
		t.Fatalf("lower-hands lowered %v, want alice", lh.Lowered)
	}
	waitFor(t, 5*time.Second, "the hand to come down for the teacher and bob", func() bool {
		return !raised(teacherRoom) && !raised(bobRoom) && aliceRoom.LocalParticipant.Attributes()["hand"] == ""
	})
	waitFor(t, 5*time.Second, "bob to hear the hands lowered", func() bool {
		found := false
		hands.Range(func(k, _ any) bool {
			var m map[string]any
			found = found || json.Unmarshal([]byte(k.(string)), &m) == nil && m["raised"] == false && m["all"] == true
			return !found
		})
		return found
	})

	// Ban: alice is disconnected and cannot get back in; banning again holds; the teacher
	// cannot be banned; only the teacher or an admin may ban.
	remove := func(u *cptest.User, who string, body any) *cptest.Response {
		return post(u, "/participants/"+who+"/remove", body)
	}
	remove(bob, alice.ID, map[string]any{"ban": true}).WantError(t, 403, "forbidden")
	remove(teacher, teacher.ID, map[string]any{"ban": true}).WantError(t, 422, "validation_failed")
	var rb struct {
		Removed bool `json:"removed"`
		Banned  bool `json:"banned"`
	}
	remove(teacher, alice.ID, map[string]any{"ban": true, "reason": "kept shouting"}).Want(t, 200).JSON(t, &rb)
	if !rb.Removed || !rb.Banned {
		t.Fatalf("ban answered %+v", rb)
	}
	select {
	case r := <-aliceRemoved:
		if r != lksdk.ParticipantRemoved {
			t.Errorf("alice disconnected with %q", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the banned student was not disconnected")
	}
	join(alice).WantError(t, 403, "banned_from_class")
	remove(teacher, alice.ID, map[string]any{"ban": true}).Want(t, 200).JSON(t, &rb)
	if rb.Removed || !rb.Banned {
		t.Fatalf("second ban answered %+v, want banned without a removal", rb)
	}
	join(alice).WantError(t, 403, "banned_from_class")
	// A plain remove does not ban: carol, never connected, is a 404; bob removed may return.
	remove(teacher, carol.ID, nil).WantError(t, 404, "not_found")
	remove(admin, bob.ID, nil).Want(t, 200)
	join(bob).Want(t, 200)

	for action, target := range map[string]string{"class.locked": id, "class.unlocked": id, "class.muted_all": id,
		"class.hands_lowered": id, "class.participant_banned": alice.ID, "class.participant_removed": bob.ID} {
		es := auditCount(t, env, action, target)
		if len(es) == 0 {
			t.Errorf("no %s audit entry", action)
			continue
		}
		if action != "class.participant_removed" && es[len(es)-1].ActorID != teacher.ID {
			t.Errorf("%s audited with actor %s, want the teacher", action, es[len(es)-1].ActorID)
		}
	}
	if bans := auditCount(t, env, "class.participant_banned", alice.ID); len(bans) != 2 || bans[1].Details["reason"] != "kept shouting" {
		t.Errorf("ban audit = %+v, want two entries, the first with the reason", bans)
	}
}
