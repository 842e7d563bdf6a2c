package controlplane_test

import (
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
	sfuconfig "github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestClassroomInBrowser is the live classroom end to end: a real SFU, a control plane that
// mints tokens for it, and two headless chromium pages with fake cameras. The teacher and a
// booked student sign in through the UI and enter the classroom; the student's page must
// play the teacher's camera (video size known, frames advancing), receive the teacher's chat
// message over the data channel, and the teacher's page must list the student's raised hand.
// (The test imports the SFU only to run it: the control plane itself never does.)
func TestClassroomInBrowser(t *testing.T) {
	b := needBrowser(t)
	// The control plane wants a secret of 32 bytes or more; the SFU's dev secret is shorter.
	sfu := sfutest.Serve(t, sfutest.WithConfig(func(c *sfuconfig.Config) {
		c.Keys = map[string]string{"ui-test-key": "ui-test-secret-0123456789abcdef-0123456789"}
	}))
	env := b.serveUI(t, func(c *controlplane.Config) {
		c.LiveKit.URL, c.LiveKit.APIKey, c.LiveKit.APISecret = sfu.URL(), sfu.APIKey(), sfu.APISecret()
	})
	teacher := env.NewUser(t, "teacher")
	student := env.NewUser(t, "student")
	admin := env.NewUser(t, "admin")
	grantCredits(t, env, admin, student.ID, 20)
	class := env.CreateClass(t, teacher, cptest.ClassSpec{Title: "Live class " + cptest.RandomHex(3), StartsIn: 5 * time.Minute})
	classID := class["id"].(string)
	env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/classes/" + classID + "/bookings", Token: student.Token,
		Headers: map[string]string{"Idempotency-Key": "ui-classroom-" + cptest.RandomHex(4)}}).Want(t, 201)

	type frame struct {
		W, H   int
		Frames int
		T      float64
		Paused bool
	}
	var d struct {
		VideoFirst, VideoLater, Screen   *frame
		ScreenAfterStop                  bool
		ScreenToast                      string
		StudentStatus, TeacherStatus     string
		TeacherHands, AfterLeave         string
		DeniedStatus, ReplacedStatus     string
		StatusHistory                    []string
		FramesAfterReconnect             int
		ChatAttempts                     int
		TeacherControls, StudentControls []string
		TeacherDevices, TeacherPrivate   []string
		StudentChat                      []struct{ Who, Text string }
		StudentTiles                     []struct{ Identity, Source, Name, Mic, Quality string }
		StudentMicBeforeMute             string
		StudentMicAfterMute              string
		MutedStatus, TeacherMuteToast    string
		ModerationButtons                []string
		StudentModerationButtons         int
	}
	chat := "Welcome to class " + cptest.RandomHex(3)
	console := b.run(t, map[string]any{"scenario": "classroom", "base": env.URL, "classID": classID, "teacherID": teacher.ID, "studentID": student.ID,
		"teacher": map[string]string{"email": teacher.Email, "password": teacher.Password},
		"student": map[string]string{"email": student.Email, "password": student.Password},
		"chat":    chat, "question": "May I ask something?", "waitMs": 30000}, &d)

	t.Logf("student sees the teacher's video: first %+v, 1.5 s later %+v", d.VideoFirst, d.VideoLater)
	if d.VideoFirst == nil || d.VideoFirst.W == 0 || d.VideoFirst.H == 0 {
		t.Fatalf("the student's page shows no decoded teacher video (%+v); status %q / teacher %q", d.VideoFirst, d.StudentStatus, d.TeacherStatus)
	}
	if d.VideoLater == nil || d.VideoLater.Paused || d.VideoLater.Frames-d.VideoFirst.Frames < 10 || d.VideoLater.T <= d.VideoFirst.T {
		t.Errorf("the teacher's video is not playing on the student's page: %+v then %+v (want >= 10 more frames in 1.5 s)", d.VideoFirst, d.VideoLater)
	}
	var teacherTile bool
	for _, tile := range d.StudentTiles {
		if tile.Identity == teacher.ID && tile.Source == "camera" {
			teacherTile = true
			if tile.Name != teacher.Name || tile.Mic != "microphone on" {
				t.Errorf("teacher's tile on the student's page = %+v, want name %q and microphone on", tile, teacher.Name)
			}
		}
	}
	if !teacherTile || len(d.StudentTiles) != 2 {
		t.Errorf("student's tiles = %+v, want the teacher's camera and the student's own", d.StudentTiles)
	}
	if len(d.StudentChat) == 0 || !strings.HasPrefix(d.StudentChat[0].Text, chat) || d.StudentChat[0].Who != teacher.Name {
		t.Errorf("student's chat = %+v after %d attempts, want %q from %q", d.StudentChat, d.ChatAttempts, chat, teacher.Name)
	}
	if len(d.TeacherPrivate) != 1 || d.TeacherPrivate[0] != student.Name+" (to you only): May I ask something?" {
		t.Errorf("teacher's private messages = %q", d.TeacherPrivate)
	}
	if !strings.Contains(d.TeacherHands, student.Name) || !strings.Contains(d.TeacherHands, "Lower") {
		t.Errorf("teacher's raised hands = %q, want %s's hand", d.TeacherHands, student.Name)
	}
	if strings.Join(d.TeacherControls, ",") != "toggle-mic,toggle-cam,toggle-screen,toggle-layout,toggle-fullscreen,end-class,leave" {
		t.Errorf("teacher's controls = %v", d.TeacherControls)
	}
	// The teacher can pick the camera and microphone (chromium's fake devices).
	if len(d.TeacherDevices) != 3 || !strings.HasPrefix(d.TeacherDevices[0], "pick-camera:") || strings.HasPrefix(d.TeacherDevices[0], "pick-camera:0") ||
		!strings.HasPrefix(d.TeacherDevices[1], "pick-mic:") || strings.HasPrefix(d.TeacherDevices[1], "pick-mic:0") {
		t.Errorf("teacher's device pickers = %q, want cameras and microphones listed", d.TeacherDevices)
	}
	// Classes let students publish by default (students_can_publish).
	if strings.Join(d.StudentControls, ",") != "toggle-mic,toggle-cam,toggle-screen,raise-hand,toggle-layout,toggle-fullscreen,leave" {
		t.Errorf("student's controls = %v", d.StudentControls)
	}
	if !strings.Contains(d.ScreenToast, "is sharing the screen") {
		t.Errorf("student's notice of the screen share = %q", d.ScreenToast)
	}
	if d.Screen == nil || d.Screen.W == 0 || d.ScreenAfterStop {
		t.Errorf("teacher's screen share on the student's page: %+v, still shown after stopping: %v", d.Screen, d.ScreenAfterStop)
	}
	// Moderation: the teacher's tile for the student has Mute and Remove; pressing Mute (by
	// keyboard) mutes the student's microphone for everyone and the student is told.
	if want := []string{"Mute " + student.Name + "'s microphone", "Remove " + student.Name + " from the class"}; !slices.Equal(d.ModerationButtons, want) || d.StudentModerationButtons != 0 {
		t.Errorf("moderation buttons: teacher's page %q (want %q), student's page %d (want none)", d.ModerationButtons, want, d.StudentModerationButtons)
	}
	if d.StudentMicBeforeMute != "microphone on" || d.StudentMicAfterMute != "microphone muted" {
		t.Errorf("the student's microphone on the teacher's page: %q before Mute, %q after", d.StudentMicBeforeMute, d.StudentMicAfterMute)
	}
	if !strings.Contains(d.MutedStatus, "The teacher muted your microphone") || !strings.Contains(d.TeacherMuteToast, "You muted "+student.Name) {
		t.Errorf("after Mute the student's page says %q and the teacher's %q", d.MutedStatus, d.TeacherMuteToast)
	}
	t.Logf("student's status banner during the reconnect: %q; %d frames in the second after", d.StatusHistory, d.FramesAfterReconnect)
	if !slices.ContainsFunc(d.StatusHistory, func(s string) bool { return strings.Contains(s, "Reconnecting") }) ||
		!slices.ContainsFunc(d.StatusHistory, func(s string) bool { return strings.HasPrefix(s, "Reconnected") }) {
		t.Errorf("after a dropped connection the banner showed %q, want Reconnecting… then Reconnected", d.StatusHistory)
	}
	if d.FramesAfterReconnect < 5 {
		t.Errorf("after the reconnect the teacher's video advanced %d frames in 1 s", d.FramesAfterReconnect)
	}
	if !strings.Contains(d.DeniedStatus, "Camera or microphone access was denied") {
		t.Errorf("with the camera denied the teacher's pre-join screen says %q", d.DeniedStatus)
	}
	if !strings.Contains(d.ReplacedStatus, "You joined this class from another tab or device") {
		t.Errorf("the teacher's first page, replaced by the second, says %q", d.ReplacedStatus)
	}
	if d.AfterLeave != "#/class/"+classID {
		t.Errorf("after Leave the student is at %q", d.AfterLeave)
	}
	for _, e := range console {
		t.Logf("console: %s", e)
	}
}

// TestClassroomSFUDownInBrowser: when the SFU cannot be reached, the classroom says so in
// plain words and offers to rejoin, instead of spinning forever.
func TestClassroomSFUDownInBrowser(t *testing.T) {
	b := needBrowser(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // a port nobody answers on once closed
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "ws://" + ln.Addr().String()
	ln.Close()
	env := b.serveUI(t, func(c *controlplane.Config) { c.LiveKit.URL = deadURL })
	teacher := env.NewUser(t, "teacher")
	class := env.CreateClass(t, teacher, cptest.ClassSpec{StartsIn: 5 * time.Minute})
	var d struct {
		Status string
		Ms     int
	}
	b.run(t, map[string]any{"scenario": "nosfu", "base": env.URL, "classID": class["id"],
		"teacher": map[string]string{"email": teacher.Email, "password": teacher.Password}}, &d)
	t.Logf("the classroom gave up after %d ms: %q", d.Ms, d.Status)
	if !strings.Contains(d.Status, "Could not connect to the classroom") {
		t.Errorf("status with the SFU down = %q", d.Status)
	}
}
