package controlplane_test

import (
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/cptest"
)

// playerSample is what testdata/ui_recording.js reads from the recordings page's <video>.
type playerSample struct {
	T            float64
	Frames, W, H int
	Paused       bool
	Error        string
}

// checkPlayback fails unless the player advanced and decoded frames over the 5 s between
// the two samples.
func checkPlayback(t *testing.T, first, later *playerSample, width int) {
	t.Helper()
	t.Logf("player: %+v, 5 s later %+v", first, later)
	if first == nil || later == nil {
		t.Fatal("the scenario took no player samples")
	}
	if later.Error != "" || later.Paused {
		t.Errorf("player stopped: %+v", later)
	}
	if adv := later.T - first.T; adv < 3 {
		t.Errorf("video.currentTime advanced %.2f s in 5 s of playback, want >= 3", adv)
	}
	if later.Frames-first.Frames < 60 {
		t.Errorf("%d frames decoded in 5 s, want >= 60", later.Frames-first.Frames)
	}
	if width > 0 && later.W != width {
		t.Errorf("picture is %dx%d, want width %d", later.W, later.H, width)
	}
}

// TestRecordingPlaysInBrowser (issue 11, acceptance 1): a server-sdk-go publisher with
// real H.264 + Opus (x264 and libopus, published from files) is recorded through the control plane; a booked student's Chromium
// plays the VOD with hls.js from the class's recordings page for 5 s: currentTime advances
// and frames are decoded, at the publisher's 640x360.
func TestRecordingPlaysInBrowser(t *testing.T) {
	b := needBrowser(t)
	st := newRecStack(t, func(t *testing.T, cfg func(*controlplane.Config)) *cptest.Env { return b.serveUI(t, cfg) })
	publishTeacher(t, st)
	recordAndStop(t, st, 5)
	var d struct {
		Listed       []string
		First, Later *playerSample
	}
	b.run(t, map[string]any{"scenario": "recplay", "base": st.env.URL, "classID": st.classID,
		"student": map[string]string{"email": st.student.Email, "password": st.student.Password}}, &d)
	t.Logf("listed: %q", d.Listed)
	checkPlayback(t, d.First, d.Later, 640)
}

// TestRecordingFromClassroomInBrowser (issue 11, acceptance 2): the teacher, in Chromium with
// a fake camera in a recordable class, starts recording from the classroom; teacher and
// student see the indicator (the room's active_recording) while it runs; after the teacher
// stops it, the booked student watches it in the UI; a student without a booking gets 403
// for the playlist and for a segment, and the recordings page tells them why.
func TestRecordingFromClassroomInBrowser(t *testing.T) {
	b := needBrowser(t)
	st := newRecStack(t, func(t *testing.T, cfg func(*controlplane.Config)) *cptest.Env { return b.serveUI(t, cfg) })
	var d struct {
		Codec                             string
		ButtonBefore, ButtonDuring        string
		StudentIndicatorBefore            bool
		StudentHasButton                  bool
		StudentIndicator                  string
		StudentIndicatorAfter             bool
		LiveSegments                      int
		Listed                            []string
		First, Later                      *playerSample
		StudentPlaylist, StudentSegment   int
		OutsiderPlaylist, OutsiderSegment int
		OutsiderPage                      string
	}
	user := func(u *cptest.User) map[string]string {
		return map[string]string{"email": u.Email, "password": u.Password}
	}
	b.run(t, map[string]any{"scenario": "recording", "base": st.env.URL, "classID": st.classID, "segments": 3, "timeout": 150 * time.Second,
		"teacher": user(st.teacher), "student": user(st.student), "outsider": user(st.outsider)}, &d)
	t.Logf("teacher published %s; button %q -> %q; live playlist had %d segments; listed %q", d.Codec, d.ButtonBefore,
		d.ButtonDuring, d.LiveSegments, d.Listed)
	if d.ButtonBefore != "Start recording" || d.ButtonDuring != "Stop recording" {
		t.Errorf("teacher's button: %q before, %q while recording", d.ButtonBefore, d.ButtonDuring)
	}
	if d.StudentHasButton {
		t.Error("the student's classroom shows the recording button")
	}
	if d.StudentIndicatorBefore || d.StudentIndicator != "● Recording" || d.StudentIndicatorAfter {
		t.Errorf("student's indicator: before %v, during %q, after %v; want hidden, shown, hidden",
			d.StudentIndicatorBefore, d.StudentIndicator, d.StudentIndicatorAfter)
	}
	checkPlayback(t, d.First, d.Later, 0)
	if d.StudentPlaylist != 200 || d.StudentSegment != 200 {
		t.Errorf("booked student: playlist %d, segment %d; want 200, 200", d.StudentPlaylist, d.StudentSegment)
	}
	if d.OutsiderPlaylist != 403 || d.OutsiderSegment != 403 {
		t.Errorf("student without a booking: playlist %d, segment %d; want 403, 403", d.OutsiderPlaylist, d.OutsiderSegment)
	}
	if d.OutsiderPage == "" {
		t.Error("the recordings page shows a student without a booking no explanation")
	}
}

// TestWaitlistWatchesLiveInBrowser (issue 11: students beyond the room's capacity watch,
// view-only): a full class is recorded; a student on its waitlist gets "Watch live" on the
// class page and plays the running recording live in Chromium for 5 s (currentTime
// advances, frames decoded); a student neither booked nor queued is not offered it.
func TestWaitlistWatchesLiveInBrowser(t *testing.T) {
	b := needBrowser(t)
	st := newRecStackCap(t, func(t *testing.T, cfg func(*controlplane.Config)) *cptest.Env { return b.serveUI(t, cfg) }, 1)
	env := st.env
	queued := env.NewUser(t, "student")
	env.Do(t, "POST", "/api/v1/classes/"+st.classID+"/waitlist", queued.Token, nil).Want(t, 201)
	publishTeacher(t, st)
	rec := env.Do(t, "POST", "/api/v1/classes/"+st.classID+"/recordings", st.teacher.Token, nil).Want(t, 201).Map(t)
	pollFor(t, 60*time.Second, "2 segments in the live playlist", func() bool {
		res := env.Do(t, "GET", rec["playlist_url"].(string), st.teacher.Token, nil)
		return res.Status == 200 && len(segRE.FindAllString(string(res.Body), -1)) >= 2
	})
	var d struct {
		OutsiderOffered bool
		Offer, Title    string
		Listed          []string
		First, Later    *playerSample
	}
	user := func(u *cptest.User) map[string]string {
		return map[string]string{"email": u.Email, "password": u.Password}
	}
	b.run(t, map[string]any{"scenario": "reclive", "base": env.URL, "classID": st.classID, "timeout": 120 * time.Second,
		"queued": user(queued), "outsider": user(st.outsider)}, &d)
	t.Logf("offer %q, page %q, listed %q", d.Offer, d.Title, d.Listed)
	if d.OutsiderOffered {
		t.Error("a student neither booked nor on the waitlist is offered \"Watch live\"")
	}
	if d.Offer != "Watch live" {
		t.Errorf("queued student's offer on the class page = %q, want \"Watch live\"", d.Offer)
	}
	checkPlayback(t, d.First, d.Later, 640)
	env.Do(t, "POST", "/api/v1/recordings/"+rec["id"].(string)+"/stop", st.teacher.Token, nil).Want(t, 200)
}
