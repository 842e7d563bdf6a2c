package api

import (
	"net/http"

	"github.com/atrium-live/atrium/controlplane/classroom"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// The classroom's persisted chat, Q&A and polls (classroom package, docs/classroom.md): the
// class's teacher, its booked students and admins.

func roomActor(p store.Principal) classroom.Actor {
	return classroom.Actor{UserID: p.UserID, Role: p.Role}
}

func (h *Handler) classChat(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	f := problem.Field{}
	after := queryInt(r, f, "after", 0, 1<<62)
	if err == nil {
		err = f.Err()
	}
	var ms []classroom.Message
	if err == nil {
		var from int64
		if after != nil {
			from = int64(*after)
		}
		ms, err = h.Classroom.Chat(r.Context(), roomActor(p), id, from)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ms})
}

func (h *Handler) postChat(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Text      string `json:"text"`
		ToTeacher bool   `json:"to_teacher"`
	}
	id, err := pathUUID(r, "id")
	if err == nil {
		err = decode(r, &in)
	}
	var m classroom.Message
	if err == nil {
		m, err = h.Classroom.PostChat(r.Context(), roomActor(p), id, in.Text, in.ToTeacher)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, m)
}

func (h *Handler) classQuestions(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var qs []classroom.Question
	if err == nil {
		qs, err = h.Classroom.Questions(r.Context(), roomActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": qs})
}

func (h *Handler) askQuestion(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Text string `json:"text"`
	}
	id, err := pathUUID(r, "id")
	if err == nil {
		err = decode(r, &in)
	}
	var q classroom.Question
	if err == nil {
		q, err = h.Classroom.Ask(r.Context(), roomActor(p), id, in.Text)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, q)
}

// questionAction serves upvote and answer, which take no body.
func (h *Handler) questionAction(upvote bool) func(http.ResponseWriter, *http.Request, store.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p store.Principal) {
		id, err := pathUUID(r, "id")
		var qid string
		if err == nil {
			qid, err = pathUUID(r, "qid")
		}
		var q classroom.Question
		if err == nil && upvote {
			q, err = h.Classroom.Upvote(r.Context(), roomActor(p), id, qid)
		} else if err == nil {
			q, err = h.Classroom.Answer(r.Context(), roomActor(p), id, qid)
		}
		if err != nil {
			writeError(w, r, h.Log, err)
			return
		}
		writeJSON(w, http.StatusOK, q)
	}
}

func (h *Handler) classPolls(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var ps []classroom.Poll
	if err == nil {
		ps, err = h.Classroom.Polls(r.Context(), roomActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ps})
}

func (h *Handler) createPoll(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Question string   `json:"question"`
		Options  []string `json:"options"`
	}
	id, err := pathUUID(r, "id")
	if err == nil {
		err = decode(r, &in)
	}
	var poll classroom.Poll
	if err == nil {
		poll, err = h.Classroom.CreatePoll(r.Context(), roomActor(p), id, in.Question, in.Options)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, poll)
}

func (h *Handler) votePoll(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Choice int `json:"choice"`
	}
	id, err := pathUUID(r, "id")
	var pid string
	if err == nil {
		pid, err = pathUUID(r, "pid")
	}
	if err == nil {
		err = decode(r, &in)
	}
	var poll classroom.Poll
	if err == nil {
		poll, err = h.Classroom.Vote(r.Context(), roomActor(p), id, pid, in.Choice)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, poll)
}

func (h *Handler) closePoll(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var pid string
	if err == nil {
		pid, err = pathUUID(r, "pid")
	}
	var poll classroom.Poll
	if err == nil {
		poll, err = h.Classroom.ClosePoll(r.Context(), roomActor(p), id, pid)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, poll)
}
