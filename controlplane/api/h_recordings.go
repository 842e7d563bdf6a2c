package api

import (
	"net/http"
	"regexp"
	"time"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/recordings"
	"github.com/atrium-live/atrium/controlplane/store"
)

type recordingView struct {
	ID              string     `json:"id"`
	ClassID         string     `json:"class_id"`
	State           string     `json:"state"`
	Live            bool       `json:"live"`
	StartedAt       *time.Time `json:"started_at"`
	EndedAt         *time.Time `json:"ended_at"`
	DurationSeconds float64    `json:"duration_seconds"`
	SizeBytes       int64      `json:"size_bytes"`
	ExpiresAt       *time.Time `json:"expires_at"`
	Details         string     `json:"details,omitempty"`
	Error           string     `json:"error,omitempty"`
	// PlaylistURL is the authorizing proxy's URL of the HLS playlist (send the bearer token).
	PlaylistURL string `json:"playlist_url"`
}

func viewRecording(r store.Recording) recordingView {
	return recordingView{ID: r.EgressID, ClassID: r.ClassID, State: r.State, Live: recordings.Running(r),
		StartedAt: r.StartedAt, EndedAt: r.EndedAt, DurationSeconds: r.DurationSeconds, SizeBytes: r.SizeBytes,
		ExpiresAt: r.ExpiresAt, Details: r.Details, Error: r.Error,
		PlaylistURL: "/api/v1/recordings/" + r.EgressID + "/media/index.m3u8"}
}

func viewRecordings(rs []store.Recording) []recordingView {
	out := make([]recordingView, 0, len(rs))
	for _, r := range rs {
		out = append(out, viewRecording(r))
	}
	return out
}

func recActor(p store.Principal) recordings.Actor {
	return recordings.Actor{UserID: p.UserID, Role: p.Role}
}

// egressIDRE is what recording ids look like (LiveKit egress ids); anything else is a 404.
var egressIDRE = regexp.MustCompile(`^EG_[A-Za-z0-9]{1,40}$`)

func pathEgressID(r *http.Request) (string, error) {
	id := pathVar(r, "id")
	if !egressIDRE.MatchString(id) {
		return "", problem.New(http.StatusNotFound, problem.CodeNotFound, "no such recording")
	}
	return id, nil
}

// classRecordings lists a class's recordings for its teacher, an admin or a booked student,
// and the running one (live_only) for a student on the waitlist of the full class.
func (h *Handler) classRecordings(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var v recordings.ClassView
	if err == nil {
		v, err = h.Recordings.ForClass(r.Context(), recActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"class_id": id, "recordable": v.Class.Recordable,
		"recording_enabled": v.Enabled, "may_manage": v.MayManage, "auto_record": v.Settings.AutoRecord,
		"retention_days": v.Retention, "live_only": v.Access == recordings.AccessLive, "items": viewRecordings(v.Recordings)})
}

// startRecording starts recording a class (its teacher or an admin).
func (h *Handler) startRecording(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var rec store.Recording
	if err == nil {
		rec, err = h.Recordings.Start(r.Context(), recActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewRecording(rec))
}

type recordingSettingsBody struct {
	AutoRecord    bool `json:"auto_record"`
	RetentionDays *int `json:"retention_days"`
}

// putRecordingSettings sets a class's auto-record flag and retention (its teacher or an admin).
func (h *Handler) putRecordingSettings(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var b recordingSettingsBody
	if err == nil {
		err = decode(r, &b)
	}
	if err == nil {
		err = h.Recordings.SetSettings(r.Context(), recActor(p),
			store.RecordingSettings{ClassID: id, AutoRecord: b.AutoRecord, RetentionDays: b.RetentionDays})
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"class_id": id, "auto_record": b.AutoRecord, "retention_days": b.RetentionDays})
}

// stopRecording stops a running recording (its teacher or an admin).
func (h *Handler) stopRecording(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathEgressID(r)
	var rec store.Recording
	if err == nil {
		rec, err = h.Recordings.Stop(r.Context(), recActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRecording(rec))
}

// deleteRecording deletes a finished recording and its objects (its teacher or an admin).
func (h *Handler) deleteRecording(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathEgressID(r)
	if err == nil {
		err = h.Recordings.Delete(r.Context(), recActor(p), id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// recordingMedia is the authorizing proxy: one HLS object (playlist, init or media segment)
// of a recording, for its class's teacher, an admin or a booked student, and for a student
// on the class's waitlist while the recording runs, read from the recorders' bucket.
// Everyone else gets 403, whatever URL they guess.
func (h *Handler) recordingMedia(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathEgressID(r)
	var (
		obj   recordings.Object
		ctype string
	)
	if err == nil {
		obj, ctype, err = h.Recordings.Media(r.Context(), recActor(p), id, pathVar(r, "file"))
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	defer obj.Close()
	w.Header().Set("Content-Type", ctype)
	if ctype == "application/vnd.apple.mpegurl" {
		w.Header().Set("Cache-Control", "private, no-cache") // a live playlist grows
	} else {
		w.Header().Set("Cache-Control", "private, max-age=3600")
	}
	http.ServeContent(w, r, "", obj.Modified, obj)
}

// teacherRecordings lists the teacher's recordings and the storage they use.
func (h *Handler) teacherRecordings(w http.ResponseWriter, r *http.Request, p store.Principal) {
	recs, total, err := h.Recordings.Usage(r.Context(), p.UserID)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"storage_bytes": total, "items": viewRecordings(recs)})
}
