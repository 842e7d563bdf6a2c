package controlplane_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
	lksdk "github.com/livekit/server-sdk-go/v2"
	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/pkg/egress"
	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/recorder/s3test"
	sfuconfig "github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// recStack is the whole recording path, real parts only: an SFU serving the Egress API over
// a Redis job store, a recorder claiming jobs from it and storing HLS in versitygw, and a
// control plane that starts recordings through that API, learns about them from the
// recorder's egress webhooks and serves them from the bucket. (The test imports the SFU and
// the recorder only to run them: the control plane itself reaches them over public APIs.)
type recStack struct {
	env                        *cptest.Env
	sfu                        *sfutest.Server
	s3                         *s3test.Server
	teacher, student, outsider *cptest.User
	admin                      *cptest.User
	classID                    string
}

func newRecStack(t *testing.T, serve func(t *testing.T, cfg func(*controlplane.Config)) *cptest.Env) *recStack {
	t.Helper()
	return newRecStackCap(t, serve, 0)
}

// newRecStackCap is newRecStack with a class of capacity seats (0: the default).
func newRecStackCap(t *testing.T, serve func(t *testing.T, cfg func(*controlplane.Config)) *cptest.Env, capacity int) *recStack {
	t.Helper()
	s3 := s3test.Serve(t)
	prefix := "atrium:test:rec:" + cptest.RandomHex(4)
	sfu := sfutest.Serve(t, sfutest.WithConfig(func(c *sfuconfig.Config) {
		c.Keys = map[string]string{"rec-test-key": "rec-test-secret-0123456789abcdef-0123456789"}
		c.Egress = egress.APIConfig{RedisAddr: "127.0.0.1:6379", KeyPrefix: prefix, Bucket: s3.Bucket}
	}))
	if serve == nil {
		serve = func(t *testing.T, cfg func(*controlplane.Config)) *cptest.Env {
			return cptest.Serve(t, cptest.Options{Config: cfg})
		}
	}
	env := serve(t, func(c *controlplane.Config) {
		c.LiveKit.URL, c.LiveKit.APIKey, c.LiveKit.APISecret = sfu.URL(), sfu.APIKey(), sfu.APISecret()
		s := s3.Config()
		c.Recording.S3.Endpoint, c.Recording.S3.AccessKey, c.Recording.S3.SecretKey = s.Endpoint, s.AccessKey, s.SecretKey
		c.Recording.S3.Bucket = s.Bucket
	})

	cfg := recorder.DefaultConfig()
	cfg.HTTP = ""
	cfg.LiveKit = recorder.LiveKitConfig{URL: sfu.URL(), APIKey: sfu.APIKey(), APISecret: sfu.APISecret()}
	cfg.S3 = s3.Config()
	cfg.Redis = recorder.RedisConfig{Addr: "127.0.0.1:6379", Prefix: prefix}
	cfg.Webhook.URLs = []string{env.URL + "/api/v1/webhooks/livekit"}
	cfg.SpoolDir = t.TempDir()
	cfg.UploadRetryMax = time.Second
	cfg.FinishTimeout = 60 * time.Second
	// Info: a failing test shows what the recorder did (joined, muxer started, ffmpeg warnings).
	rec, err := recorder.New(cfg, recorder.Deps{Logger: slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rec.Run(ctx, egress.NewStore(rdb, prefix)) }()
	t.Cleanup(func() { cancel(); <-done; rdb.Close() })

	st := &recStack{env: env, sfu: sfu, s3: s3}
	st.teacher, st.student, st.outsider = env.NewUser(t, "teacher"), env.NewUser(t, "student"), env.NewUser(t, "student")
	st.admin = env.NewUser(t, "admin")
	grantCredits(t, env, st.admin, st.student.ID, 20)
	class := env.CreateClass(t, st.teacher, cptest.ClassSpec{Title: "Recorded class " + cptest.RandomHex(3), StartsIn: 5 * time.Minute,
		Capacity: capacity})
	st.classID = class["id"].(string)
	env.Do(t, "PATCH", "/api/v1/classes/"+st.classID, st.teacher.Token, map[string]any{"recordable": true}).Want(t, 200)
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + st.classID + "/bookings", Token: st.student.Token,
		Headers: map[string]string{"Idempotency-Key": "rec-" + cptest.RandomHex(4)}}).Want(t, 201)
	return st
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

// teacherMedia encodes, once per test binary, real media a browser can decode: 120 s of
// ffmpeg's test pattern as H.264 (x264 baseline, 640x360, 30 fps, a keyframe a second) and a
// 440 Hz tone as Opus in 20 ms frames.
var teacherMedia = sync.OnceValues(func() ([2]string, error) {
	dir, err := os.MkdirTemp("", "atrium-rec-media-")
	if err != nil {
		return [2]string{}, err
	}
	files := [2]string{filepath.Join(dir, "camera.h264"), filepath.Join(dir, "mic.ogg")}
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30", "-t", "120", "-c:v", "libx264", "-preset", "ultrafast",
			"-profile:v", "baseline", "-tune", "zerolatency", "-g", "30", "-pix_fmt", "yuv420p", files[0]},
		{"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "120", "-c:a", "libopus", "-b:a", "32k",
			"-frame_duration", "20", "-page_duration", "20000", files[1]},
	} {
		out, err := exec.Command("ffmpeg", append([]string{"-hide_banner", "-loglevel", "error", "-y"}, args...)...).CombinedOutput()
		if err != nil {
			return files, fmt.Errorf("ffmpeg %v: %w\n%s", args, err, out)
		}
	}
	return files, nil
})

// publishTeacher joins the class room as the teacher with server-sdk-go and publishes real
// H.264 (camera, 640x360) and Opus (microphone) from teacherMedia, paced in real time.
func publishTeacher(t *testing.T, st *recStack) {
	t.Helper()
	files, err := teacherMedia()
	if err != nil {
		t.Fatalf("this test needs ffmpeg with libx264 and libopus (scripts/test-deps.sh): %v", err)
	}
	r, err := lksdk.ConnectToRoomWithToken(st.sfu.URL(), st.sfu.Token(st.classID, st.teacher.ID), lksdk.NewRoomCallback(),
		lksdk.WithAutoSubscribe(false))
	if err != nil {
		t.Fatalf("teacher join: %v", err)
	}
	t.Cleanup(r.Disconnect)
	vt, err := lksdk.NewLocalFileTrack(files[0], lksdk.ReaderTrackWithFrameDuration(time.Second/30))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LocalParticipant.PublishTrack(vt, &lksdk.TrackPublicationOptions{Name: "camera",
		Source: livekit.TrackSource_CAMERA, VideoWidth: 640, VideoHeight: 360}); err != nil {
		t.Fatalf("publish video: %v", err)
	}
	at, err := lksdk.NewLocalFileTrack(files[1], lksdk.ReaderTrackWithFrameDuration(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LocalParticipant.PublishTrack(at, &lksdk.TrackPublicationOptions{Name: "microphone",
		Source: livekit.TrackSource_MICROPHONE}); err != nil {
		t.Fatalf("publish audio: %v", err)
	}
}

// pollFor checks cond every 200 ms (each check is an HTTP round trip) until it holds or
// timeout passes.
func pollFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var segRE = regexp.MustCompile(`(?m)^(seg_\d+\.m4s)$`)

// recordAndStop starts a recording as the teacher through the control plane, waits until the
// live playlist lists at least minSegs segments, stops it and waits for the recorder's
// egress_ended webhook to mark it complete. It returns the recording's JSON.
func recordAndStop(t *testing.T, st *recStack, minSegs int) map[string]any {
	t.Helper()
	env := st.env
	rec := env.Do(t, "POST", "/api/v1/classes/"+st.classID+"/recordings", st.teacher.Token, nil).Want(t, 201).Map(t)
	id := rec["id"].(string)
	playlist := rec["playlist_url"].(string)
	pollFor(t, 60*time.Second, fmt.Sprintf("%d segments in the live playlist", minSegs), func() bool {
		res := env.Do(t, "GET", playlist, st.teacher.Token, nil)
		return res.Status == 200 && len(segRE.FindAllString(string(res.Body), -1)) >= minSegs
	})
	env.Do(t, "POST", "/api/v1/recordings/"+id+"/stop", st.teacher.Token, nil).Want(t, 200)
	var got map[string]any
	pollFor(t, 60*time.Second, "the recording to complete (egress_ended webhook)", func() bool {
		v := env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", st.teacher.Token, nil).Want(t, 200).Map(t)
		for _, it := range v["items"].([]any) {
			if m := it.(map[string]any); m["id"] == id && m["state"] == "complete" {
				got = m
			}
		}
		return got != nil
	})
	return got
}

// TestRecordingThroughControlPlane: the teacher starts and stops a recording through the
// control plane (Egress Twirp API of the SFU, a real recorder, versitygw); the recorder's
// webhooks make it complete with its duration and size; the teacher and the booked student
// fetch the playlist and segments through the authorizing proxy, a student without a booking
// gets 403 for both and an anonymous caller 401; the teacher's storage counts it until it is
// deleted; retention deletes recordings whose time is up.
func TestRecordingThroughControlPlane(t *testing.T) {
	st := newRecStack(t, nil)
	env := st.env
	publishTeacher(t, st)

	env.Do(t, "POST", "/api/v1/classes/"+st.classID+"/recordings", st.student.Token, nil).WantError(t, 403, "forbidden")
	rec := recordAndStop(t, st, 3)
	id := rec["id"].(string)
	if d := rec["duration_seconds"].(float64); d < 4 {
		t.Errorf("complete recording lasts %.1f s, want >= 4 (3 segments of about 2 s)", d)
	}
	size := int64(rec["size_bytes"].(float64))
	if size < 50_000 {
		t.Errorf("complete recording has %d bytes, want a real 720p stream", size)
	}

	playlist := env.Do(t, "GET", rec["playlist_url"].(string), st.student.Token, nil).Want(t, 200)
	if ct := playlist.Header.Get("Content-Type"); ct != "application/vnd.apple.mpegurl" {
		t.Errorf("playlist Content-Type = %q", ct)
	}
	if !strings.Contains(string(playlist.Body), "#EXT-X-ENDLIST") {
		t.Errorf("stopped recording's playlist has no EXT-X-ENDLIST:\n%s", playlist.Body)
	}
	segs := segRE.FindAllString(string(playlist.Body), -1)
	if len(segs) == 0 {
		t.Fatalf("playlist lists no segments:\n%s", playlist.Body)
	}
	segURL := "/api/v1/recordings/" + id + "/media/" + segs[len(segs)-1]
	seg := env.Do(t, "GET", segURL, st.student.Token, nil).Want(t, 200)
	if ct := seg.Header.Get("Content-Type"); ct != "video/iso.segment" || len(seg.Body) < 1000 {
		t.Errorf("segment: Content-Type %q, %d bytes", ct, len(seg.Body))
	}
	for _, u := range []string{rec["playlist_url"].(string), segURL, "/api/v1/recordings/" + id + "/media/init_0.mp4"} {
		env.Do(t, "GET", u, st.outsider.Token, nil).WantError(t, 403, "not_booked")
		env.Do(t, "GET", u, "", nil).Want(t, 401)
	}
	env.Do(t, "GET", "/api/v1/recordings/"+id+"/media/..%2Fx.m3u8", st.teacher.Token, nil).Want(t, 404)
	env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", st.outsider.Token, nil).WantError(t, 403, "not_booked")
	env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", st.student.Token, nil).Want(t, 200)

	usage := env.Do(t, "GET", "/api/v1/teacher/recordings", st.teacher.Token, nil).Want(t, 200).Map(t)
	if got := int64(usage["storage_bytes"].(float64)); got != size {
		t.Errorf("teacher storage = %d bytes, want the recording's %d", got, size)
	}
	env.Do(t, "DELETE", "/api/v1/recordings/"+id, st.student.Token, nil).Want(t, 403)
	env.Do(t, "DELETE", "/api/v1/recordings/"+id, st.teacher.Token, nil).Want(t, 204)
	env.Do(t, "GET", segURL, st.teacher.Token, nil).Want(t, 404)
	usage = env.Do(t, "GET", "/api/v1/teacher/recordings", st.teacher.Token, nil).Want(t, 200).Map(t)
	if got := usage["storage_bytes"].(float64); got != 0 {
		t.Errorf("teacher storage after deleting = %v, want 0", got)
	}

	// Retention: a second recording, kept 2 days, outlives a sweep 1 day on and not one 3 days on.
	env.Do(t, "PUT", "/api/v1/classes/"+st.classID+"/recording-settings", st.teacher.Token,
		map[string]any{"auto_record": false, "retention_days": 2}).Want(t, 200)
	rec2 := recordAndStop(t, st, 1)
	ctx := context.Background()
	env.Clock.Advance(24 * time.Hour)
	if n, err := env.Server.Recordings.DeleteExpired(ctx); err != nil || n != 0 {
		t.Fatalf("sweep a day on: deleted %d, %v; want 0", n, err)
	}
	env.Clock.Advance(48 * time.Hour)
	if n, err := env.Server.Recordings.DeleteExpired(ctx); err != nil || n != 1 {
		t.Fatalf("sweep three days on: deleted %d, %v; want 1", n, err)
	}
	env.Login(t, st.teacher) // three days on, the access token has expired
	env.Do(t, "GET", rec2["playlist_url"].(string), st.teacher.Token, nil).Want(t, 404)
}

// TestAutoRecordWhenTeacherJoins: in a class set to record automatically, the teacher's
// participant_joined webhook from the SFU starts a recording; a second join (a reconnect)
// does not start another.
func TestAutoRecordWhenTeacherJoins(t *testing.T) {
	st := newRecStack(t, nil)
	env := st.env
	env.Do(t, "PUT", "/api/v1/classes/"+st.classID+"/recording-settings", st.teacher.Token,
		map[string]any{"auto_record": true, "retention_days": nil}).Want(t, 200)
	for i := 0; i < 2; i++ {
		env.SendWebhook(t, cptest.ParticipantEvent(fmt.Sprintf("EV_auto_%d_%s", i, cptest.RandomHex(3)), "participant_joined",
			st.classID, st.teacher.ID, "PA_"+cptest.RandomHex(4), time.Now())).Want(t, 200)
	}
	v := env.Do(t, "GET", "/api/v1/classes/"+st.classID+"/recordings", st.teacher.Token, nil).Want(t, 200).Map(t)
	items := v["items"].([]any)
	if len(items) != 1 || !items[0].(map[string]any)["live"].(bool) {
		t.Fatalf("after two teacher joins: %d recordings %v, want one running", len(items), items)
	}
	env.Do(t, "POST", "/api/v1/recordings/"+items[0].(map[string]any)["id"].(string)+"/stop", st.teacher.Token, nil).Want(t, 200)
}

// TestEgressWebhooksNeverGoBack: the recorders' egress webhooks may arrive late, twice or out
// of order; a recording's state never moves backwards, figures only grow, and retention
// starts from the end (no SFU or recorder needed: the events are signed by the test).
func TestEgressWebhooksNeverGoBack(t *testing.T) {
	env := cptest.Serve(t)
	teacher := env.NewUser(t, "teacher")
	class := env.CreateClass(t, teacher, cptest.ClassSpec{Title: "Webhook class " + cptest.RandomHex(3)})
	classID := class["id"].(string)
	start := time.Now().Add(-time.Hour)
	ev := func(id, event string, status livekit.EgressStatus, dur time.Duration, size int64, ended bool) *livekit.WebhookEvent {
		info := &livekit.EgressInfo{EgressId: "EG_hook1", RoomName: classID, Status: status, StartedAt: start.UnixNano(),
			SegmentResults: []*livekit.SegmentsInfo{{PlaylistName: "classes/" + classID + "/x/index.m3u8", Duration: int64(dur), Size: size}}}
		if ended {
			info.EndedAt = start.Add(dur).UnixNano()
		}
		return &livekit.WebhookEvent{Id: id, Event: event, EgressInfo: info, CreatedAt: time.Now().Unix()}
	}
	get := func() map[string]any {
		v := env.Do(t, "GET", "/api/v1/classes/"+classID+"/recordings", teacher.Token, nil).Want(t, 200).Map(t)
		items := v["items"].([]any)
		if len(items) != 1 {
			t.Fatalf("%d recordings, want 1: %v", len(items), items)
		}
		return items[0].(map[string]any)
	}
	env.SendWebhook(t, ev("EV_h1", "egress_ended", livekit.EgressStatus_EGRESS_COMPLETE, 10*time.Minute, 5000, true)).Want(t, 200)
	env.SendWebhook(t, ev("EV_h2", "egress_started", livekit.EgressStatus_EGRESS_ACTIVE, 0, 0, false)).Want(t, 200)
	env.SendWebhook(t, ev("EV_h1", "egress_ended", livekit.EgressStatus_EGRESS_FAILED, 0, 0, true)).Want(t, 200) // a duplicate id
	r := get()
	if r["state"] != "complete" || r["duration_seconds"].(float64) != 600 || r["size_bytes"].(float64) != 5000 || r["live"].(bool) {
		t.Errorf("after ended, a late started and a duplicate: %v; want complete, 600 s, 5000 bytes", r)
	}
	exp, err := time.Parse(time.RFC3339, r["expires_at"].(string))
	if want := start.Add(10 * time.Minute).Add(90 * 24 * time.Hour); err != nil || exp.Sub(want).Abs() > time.Second {
		t.Errorf("expires_at = %v, want the end plus the default 90 days (%v)", r["expires_at"], want)
	}
	// An egress of a room that is no class is acknowledged and ignored.
	other := ev("EV_h3", "egress_started", livekit.EgressStatus_EGRESS_ACTIVE, 0, 0, false)
	other.EgressInfo.RoomName = "not-a-class"
	env.SendWebhook(t, other).Want(t, 200)
}
