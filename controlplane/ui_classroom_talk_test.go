package controlplane_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/api"
	"github.com/atrium-live/atrium/controlplane/cptest"
	sfuconfig "github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// roomFeatures says which of the teacher's room controls this server has (issue 14: other
// work lands them), read from the OpenAPI document the server enforces.
type roomFeatures struct {
	Lock, End, Ban, MuteAll, LowerHands bool
}

func serverRoomFeatures(t *testing.T) roomFeatures {
	t.Helper()
	spec, err := api.LoadSpec(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	has := func(path string) bool {
		item := spec.Paths.Value(path)
		return item != nil && item.Post != nil
	}
	f := roomFeatures{Lock: has("/classes/{id}/lock"), End: has("/classes/{id}/end"), MuteAll: has("/classes/{id}/mute-all"),
		LowerHands: has("/classes/{id}/lower-hands")}
	if item := spec.Paths.Value("/classes/{id}/participants/{userID}/remove"); item != nil && item.Post != nil && item.Post.RequestBody != nil {
		if mt := item.Post.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil && mt.Schema.Value.Properties["ban"] != nil {
			f.Ban = true
		}
	}
	return f
}

func serveClassroom(t *testing.T) (uiBrowser, *cptest.Env) {
	b := needBrowser(t)
	sfu := sfutest.Serve(t, sfutest.WithConfig(func(c *sfuconfig.Config) {
		c.Keys = map[string]string{"ui-test-key": "ui-test-secret-0123456789abcdef-0123456789"}
	}))
	env := b.serveUI(t, func(c *controlplane.Config) {
		c.LiveKit.URL, c.LiveKit.APIKey, c.LiveKit.APISecret = sfu.URL(), sfu.APIKey(), sfu.APISecret()
	})
	return b, env
}

// TestClassroomTalkInBrowser is the classroom's conversation and the teacher's controls in
// chromium with three pages (a teacher on a 1366x768 desktop, two students on phones): the
// pre-join screen (preview, devices, display name), chat, a question and a poll; a student
// who joins late sees the chat history and the question, upvotes it, votes, and every page
// shows the same poll results, which match the votes. Then hands (one lowered, all
// lowered), mute everyone, speaker view, pin, full screen, the remove dialog (cancel, then
// remove with a ban) and the End class dialog. Lock, ban and End are carried out only when
// the server has them; their subtests say so otherwise.
func TestClassroomTalkInBrowser(t *testing.T) {
	b, env := serveClassroom(t)
	features := serverRoomFeatures(t)
	teacher := env.NewUser(t, "teacher")
	ada, bea := env.NewUser(t, "student"), env.NewUser(t, "student")
	admin := env.NewUser(t, "admin")
	class := env.CreateClass(t, teacher, cptest.ClassSpec{Title: "Talk class " + cptest.RandomHex(3), StartsIn: 5 * time.Minute})
	classID := class["id"].(string)
	bookSeat(t, env, admin, ada, classID)
	bookSeat(t, env, admin, bea, classID)
	env.Clock.Advance(6 * time.Minute) // the class has started (End class needs that)

	var d struct {
		Preview                      *struct{ W, H int }
		PrejoinCameras, PrejoinMics  int
		AdaPrejoinControls           []string
		DisplayName                  string
		Desktop                      struct{ IW, IH, Width, Bottom, SW, SH, Side, Stage float64 }
		TeacherQADot                 bool
		LateChat                     []struct{ Who, Text string }
		LateQuestions                []string
		TeacherVotes                 string
		LatePollBeforeVote           []int
		PollCounts                   struct{ Teacher, Ada, Bea []int }
		PollTotal, AdaVoteLabel      string
		LateAnswered                 bool
		TeacherHands, AdaAfterLower  string
		PeopleOrder                  []string
		AfterLowerAll                struct{ Ada, Bea, TeacherHandsHidden bool }
		AdaMicBeforeMuteAll          string
		MuteAllStatus                string
		AdaMicAfterMuteAll           string
		SpeakerView, GridAgain       bool
		MainTile                     string
		Fullscreen                   string
		RemoveDialog                 string
		BeaAfterCancel               string
		LockText, UnlockText         string
		RemovedStatus, RemoveToast   string
		BeaRejoinButton              bool
		EndDialog                    string
		ConnectedAfterEndCancel      string
		AdaAfterEnd, TeacherAfterEnd string
	}
	chat, reply := "Welcome, everyone "+cptest.RandomHex(3), "Hello from the phone "+cptest.RandomHex(3)
	question := "Will the slides be shared? " + cptest.RandomHex(3)
	cfg := map[string]any{"scenario": "talk", "base": env.URL, "classID": classID, "teacherID": teacher.ID,
		"studentID": ada.ID, "lateID": bea.ID, "displayName": "Ada on the phone",
		"teacher": map[string]string{"email": teacher.Email, "password": teacher.Password},
		"student": map[string]string{"email": ada.Email, "password": ada.Password},
		"late":    map[string]string{"email": bea.Email, "password": bea.Password},
		"chat":    chat, "reply": reply, "question": question,
		// Teacher votes Slower (0), both students Just right (1): results [1 2 0].
		"poll":     map[string]any{"question": "How is the pace?", "options": []string{"Slower", "Just right", "Faster"}, "expect": []int{1, 2, 0}},
		"features": map[string]bool{"lock": features.Lock, "end": features.End, "ban": features.Ban},
		"timeout":  4 * time.Minute}
	console := b.run(t, cfg, &d)
	for _, e := range console {
		t.Logf("console: %s", e)
	}

	t.Run("prejoin", func(t *testing.T) {
		if d.Preview == nil || d.Preview.W == 0 || d.PrejoinCameras == 0 || d.PrejoinMics == 0 {
			t.Errorf("teacher's pre-join: preview %+v, %d cameras, %d microphones; want a playing preview and devices", d.Preview, d.PrejoinCameras, d.PrejoinMics)
		}
		if strings.Join(d.AdaPrejoinControls, ",") != "prejoin-mic:false,prejoin-cam:false" {
			t.Errorf("student's pre-join media buttons = %q, want microphone and camera, both off", d.AdaPrejoinControls)
		}
		if d.DisplayName != "Ada on the phone" {
			t.Errorf("the teacher sees the student as %q, want the name chosen before joining", d.DisplayName)
		}
	})
	t.Run("desktop layout", func(t *testing.T) {
		dk := d.Desktop
		if dk.IW != 1366 || dk.Width < dk.IW-40 || dk.Bottom > dk.IH || dk.Bottom < dk.IH-40 || dk.SW > dk.IW || dk.SH > dk.IH ||
			dk.Stage < dk.IW/2 || dk.Side < 280 {
			t.Errorf("classroom on a 1366x768 screen: %+v; want the whole window used (width, height, no page scrolling)", dk)
		}
	})
	t.Run("late joiner", func(t *testing.T) {
		var texts []string
		for _, m := range d.LateChat {
			texts = append(texts, m.Who+": "+m.Text)
		}
		want := []string{teacher.Name + ": " + chat, "Ada on the phone: " + reply}
		if len(texts) < 2 || !strings.HasPrefix(texts[0], teacher.Name+": "+chat) || !strings.HasSuffix(texts[1], reply) {
			t.Errorf("late joiner's chat history = %q, want %q", texts, want)
		}
		if !slices.Equal(d.LateQuestions, []string{question}) {
			t.Errorf("late joiner's questions = %q, want %q", d.LateQuestions, question)
		}
		if d.TeacherVotes != "1" || !d.TeacherQADot {
			t.Errorf("after the late joiner's upvote the teacher's page shows %q votes (want 1); new-question dot %v", d.TeacherVotes, d.TeacherQADot)
		}
		if !d.LateAnswered {
			t.Errorf("the question marked answered by the teacher is not shown answered on the late joiner's page")
		}
	})
	t.Run("poll", func(t *testing.T) {
		want := []int{1, 2, 0}
		if !slices.Equal(d.LatePollBeforeVote, []int{1, 1, 0}) {
			t.Errorf("the late joiner first saw results %v, want the two earlier votes [1 1 0]", d.LatePollBeforeVote)
		}
		if !slices.Equal(d.PollCounts.Teacher, want) || !slices.Equal(d.PollCounts.Ada, want) || !slices.Equal(d.PollCounts.Bea, want) {
			t.Errorf("poll results: teacher %v, student %v, late joiner %v; want %v everywhere", d.PollCounts.Teacher, d.PollCounts.Ada, d.PollCounts.Bea, want)
		}
		if d.PollTotal != "3 votes" || !strings.Contains(d.AdaVoteLabel, "(your vote)") {
			t.Errorf("poll total %q, the student's own choice %q", d.PollTotal, d.AdaVoteLabel)
		}
		// The page's numbers are the stored votes.
		var polls struct {
			Items []poll `json:"items"`
		}
		env.Do(t, "GET", "/api/v1/classes/"+classID+"/polls", teacher.Token, nil).Want(t, 200).JSON(t, &polls)
		if len(polls.Items) != 1 || !slices.Equal(polls.Items[0].votes(), want) {
			t.Errorf("stored poll = %+v, want votes %v", polls.Items, want)
		}
	})
	t.Run("hands", func(t *testing.T) {
		if !strings.Contains(d.TeacherHands, "Ada on the phone") || !strings.Contains(d.AdaAfterLower, "Raise hand") {
			t.Errorf("teacher's raised hands %q; the student's button after the teacher lowered it %q", d.TeacherHands, d.AdaAfterLower)
		}
		if len(d.PeopleOrder) != 3 || d.PeopleOrder[0] != ada.ID || d.PeopleOrder[1] != bea.ID || d.PeopleOrder[2] != teacher.ID {
			t.Errorf("people list order = %v, want the raised hands first in raise order (%s, %s), then the teacher", d.PeopleOrder, ada.ID, bea.ID)
		}
		if !d.AfterLowerAll.Ada || !d.AfterLowerAll.Bea || !d.AfterLowerAll.TeacherHandsHidden {
			t.Errorf("after Lower all hands: %+v, want every hand down", d.AfterLowerAll)
		}
	})
	t.Run("mute everyone", func(t *testing.T) {
		if d.AdaMicBeforeMuteAll != "microphone on" || d.AdaMicAfterMuteAll != "microphone muted" || !strings.Contains(d.MuteAllStatus, "teacher muted your microphone") {
			t.Errorf("mute everyone: student's microphone %q before, %q after; student's banner %q", d.AdaMicBeforeMuteAll, d.AdaMicAfterMuteAll, d.MuteAllStatus)
		}
	})
	t.Run("layouts", func(t *testing.T) {
		if !d.SpeakerView || d.MainTile != ada.ID+"|camera" || !d.GridAgain {
			t.Errorf("speaker view %v, main tile after pinning the student %q, grid again %v", d.SpeakerView, d.MainTile, d.GridAgain)
		}
		if !strings.Contains(d.Fullscreen, "room-main") {
			t.Errorf("full screen element = %q, want the stage and its controls", d.Fullscreen)
		}
	})
	t.Run("remove", func(t *testing.T) {
		if !strings.Contains(d.RemoveDialog, "Ban from this class") || d.BeaAfterCancel != "connected" {
			t.Errorf("remove dialog %q; the student after Cancel: %q (want still connected)", d.RemoveDialog, d.BeaAfterCancel)
		}
		if !strings.Contains(d.RemovedStatus, "The teacher removed you from the class") || d.BeaRejoinButton {
			t.Errorf("the removed student's page says %q (Rejoin offered: %v)", d.RemovedStatus, d.BeaRejoinButton)
		}
	})
	t.Run("ban", func(t *testing.T) {
		if !features.Ban {
			t.Skip("POST /classes/{id}/participants/{userID}/remove takes no {ban} on this server yet (h14a's moderation work)")
		}
		if !strings.Contains(d.RemoveToast, "banned") {
			t.Errorf("teacher's notice after remove with ban = %q", d.RemoveToast)
		}
		res := env.Do(t, "POST", "/api/v1/classes/"+classID+"/join", bea.Token, nil)
		if res.Status < 400 {
			t.Errorf("the banned student's join answered %d, want a refusal", res.Status)
		}
	})
	t.Run("lock", func(t *testing.T) {
		if !features.Lock {
			t.Skip("POST /classes/{id}/lock is not on this server yet (h14a's moderation work)")
		}
		if d.LockText != "Unlock room" || d.UnlockText != "Lock room" {
			t.Errorf("lock button: %q after locking, %q after unlocking", d.LockText, d.UnlockText)
		}
	})
	t.Run("end dialog", func(t *testing.T) {
		if !strings.Contains(d.EndDialog, "credits") || !strings.Contains(d.EndDialog, "End class for everyone") || d.ConnectedAfterEndCancel != "connected" {
			t.Errorf("End class dialog %q; the student after Cancel: %q", d.EndDialog, d.ConnectedAfterEndCancel)
		}
	})
	t.Run("end class", func(t *testing.T) {
		if !features.End {
			t.Skip("POST /classes/{id}/end is not on this server yet (h14a's lifecycle work)")
		}
		if !strings.Contains(d.AdaAfterEnd, "ended") || !strings.Contains(d.TeacherAfterEnd, "You ended the class") {
			t.Errorf("after End class: student %q, teacher %q", d.AdaAfterEnd, d.TeacherAfterEnd)
		}
	})
}

// TestUIPhoneViewport visits every page at 390x844, signed out and as a student, a teacher
// and an admin, the classroom's pre-join screen, the room and its tabs included: none may
// scroll sideways (document.scrollingElement.scrollWidth <= innerWidth).
func TestUIPhoneViewport(t *testing.T) {
	b, env := serveClassroom(t)
	teacher := env.NewUser(t, "teacher")
	student := env.NewUser(t, "student")
	admin := env.NewUser(t, "admin")
	class := env.CreateClass(t, teacher, cptest.ClassSpec{Title: "A class with a rather long title to test wrapping on phones " + cptest.RandomHex(3),
		StartsIn: 5 * time.Minute})
	classID := class["id"].(string)
	bookSeat(t, env, admin, student, classID)
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/chat", teacher.Token,
		map[string]any{"text": "A long word: " + strings.Repeat("supercalifragilistic", 6)}).Want(t, 201)
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/polls", teacher.Token,
		map[string]any{"question": "Which one?", "options": []string{strings.Repeat("longoption", 9), "short"}}).Want(t, 201)
	env.Do(t, "POST", "/api/v1/classes/"+classID+"/questions", student.Token,
		map[string]any{"text": "Why " + strings.Repeat("reallylongword", 8) + "?"}).Want(t, 201)

	var d struct {
		Pages []struct {
			Name, Title string
			IW, SW      int
			Wide        []string
		}
	}
	b.run(t, map[string]any{"scenario": "phone", "base": env.URL, "classID": classID, "teacherID": teacher.ID,
		"teacher": map[string]string{"email": teacher.Email, "password": teacher.Password},
		"student": map[string]string{"email": student.Email, "password": student.Password},
		"admin":   map[string]string{"email": admin.Email, "password": admin.Password},
		"timeout": 3 * time.Minute}, &d)
	if len(d.Pages) < 35 {
		t.Errorf("measured %d pages, want every page (35)", len(d.Pages))
	}
	for _, p := range d.Pages {
		if p.IW != 390 {
			t.Errorf("%s: viewport %d px wide, want 390", p.Name, p.IW)
		}
		if p.SW > p.IW {
			t.Errorf("%s (%q) scrolls sideways on a phone: %d px of content in %d; sticking out: %q", p.Name, p.Title, p.SW, p.IW, p.Wide)
		}
	}
}
