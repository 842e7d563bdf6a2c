// Package recordings is the control plane's side of class recordings (docs/recording.md):
// it starts and stops recordings through the media plane's public Egress Twirp API (never
// importing the SFU or the recorder), keeps each class's recordings in PostgreSQL from the
// recorders' egress webhooks, starts recording when the teacher of an auto-recorded class
// joins, serves the HLS objects to the teacher and booked students through an authorizing
// proxy, and deletes recordings when asked or when their retention ends.
//
// A *Service is safe for concurrent use.
package recordings

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/livekit/protocol/livekit"
	"github.com/twitchtv/twirp"

	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Config configures recordings.
type Config struct {
	// EgressURL is the http(s) base URL of an SFU node or gateway serving the Egress API;
	// empty disables starting and stopping.
	EgressURL string
	// APIKey and APISecret sign the Egress API calls (the LiveKit key pair).
	APIKey, APISecret string
	S3                S3Config
	// RetentionDays is how long a finished recording is kept unless its class says otherwise.
	RetentionDays int
	// Folder is the object folder recordings are stored under ("classes").
	Folder string
}

// BookingChecker says whether a student holds a confirmed booking for a class.
type BookingChecker interface {
	HasConfirmedBooking(ctx context.Context, classID, userID string) (bool, error)
}

// Deps are the service's collaborators.
type Deps struct {
	Store    *store.Store
	Bookings BookingChecker
	Log      *slog.Logger
	Now      func() time.Time
}

// Service manages recordings.
type Service struct {
	cfg     Config
	egress  *egressAPI // nil: not configured
	objects *objects   // nil: not configured
	Deps
}

// New returns a Service; parts whose settings are empty are disabled (their calls answer 503).
func New(cfg Config, d Deps) (*Service, error) {
	if d.Now == nil {
		d.Now = time.Now
	}
	if cfg.Folder == "" {
		cfg.Folder = "classes"
	}
	s := &Service{cfg: cfg, Deps: d}
	if cfg.EgressURL != "" {
		s.egress = newEgressAPI(cfg.EgressURL, cfg.APIKey, cfg.APISecret)
	}
	if cfg.S3.Endpoint != "" {
		o, err := newObjects(cfg.S3)
		if err != nil {
			return nil, err
		}
		s.objects = o
	}
	return s, nil
}

// Enabled reports whether recordings can be started (an Egress API is configured).
func (s *Service) Enabled() bool { return s.egress != nil }

var (
	errDisabled  = problem.New(http.StatusServiceUnavailable, problem.CodeUnavailable, "recording is not configured on this server")
	errNoClass   = problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")
	errNoRec     = problem.New(http.StatusNotFound, problem.CodeNotFound, "no such recording")
	errNotTeach  = problem.New(http.StatusForbidden, problem.CodeForbidden, "only the class's teacher may do this")
	errNotBooked = problem.New(http.StatusForbidden, problem.CodeNotBooked, "only the teacher and students who booked the class can watch its recordings (students on the waitlist of a full class can watch it live while it is recorded)")
)

// Actor is who asks.
type Actor struct {
	UserID string
	Role   string
}

func (a Actor) admin() bool { return a.Role == "admin" }

// class loads a class (404 problem when missing).
func (s *Service) class(ctx context.Context, tx *store.Store, id string) (store.Class, error) {
	c, err := tx.ClassByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return c, errNoClass
	}
	return c, err
}

// ClassView is a class's recordings as its viewer may see them.
type ClassView struct {
	Class      store.Class
	Settings   store.RecordingSettings
	Retention  int // effective retention in days
	Recordings []store.Recording
	Enabled    bool
	MayManage  bool
	// Access is the viewer's: with AccessLive, Recordings holds the running one only.
	Access Access
}

// ForClass lists a class's recordings for its teacher, an admin or a booked student, and
// the running one for a student on the class's waitlist (see accessFor).
func (s *Service) ForClass(ctx context.Context, a Actor, classID string) (ClassView, error) {
	c, err := s.class(ctx, s.Store, classID)
	if err != nil {
		return ClassView{}, err
	}
	acc, err := s.access(ctx, a, c)
	if err != nil {
		return ClassView{}, err
	}
	if acc == AccessNone {
		return ClassView{}, errNotBooked
	}
	v := ClassView{Class: c, Enabled: s.Enabled(), MayManage: c.TeacherID == a.UserID || a.admin(), Access: acc}
	if v.Settings, err = s.Store.ClassRecordingSettings(ctx, classID); err != nil {
		return v, err
	}
	v.Retention = s.retention(v.Settings)
	recs, err := s.Store.ClassRecordings(ctx, classID)
	for _, r := range recs {
		if acc.mayOpen(r) {
			v.Recordings = append(v.Recordings, r)
		}
	}
	return v, err
}

func (s *Service) retention(rs store.RecordingSettings) int {
	if rs.RetentionDays != nil {
		return *rs.RetentionDays
	}
	return s.cfg.RetentionDays
}

// Running reports whether a recording in rs has not ended.
func Running(r store.Recording) bool {
	return r.State == store.RecordingStarting || r.State == store.RecordingActive || r.State == store.RecordingEnding
}

// Start starts recording a class room for its teacher (or an admin). The class must be
// marked "may be recorded" and not recording already. Starts of one class are serialised
// by the class row's lock, so a teacher's double click or reconnect starts one recording.
func (s *Service) Start(ctx context.Context, a Actor, classID string) (store.Recording, error) {
	if s.egress == nil {
		return store.Recording{}, errDisabled
	}
	var out store.Recording
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		c, err := tx.ClassByIDForUpdate(ctx, classID)
		if errors.Is(err, store.ErrNotFound) {
			return errNoClass
		}
		if err != nil {
			return err
		}
		if c.TeacherID != a.UserID && !a.admin() {
			return errNotTeach
		}
		if !c.Recordable {
			return problem.New(http.StatusConflict, problem.CodeConflict, "this class is not marked \"may be recorded\"")
		}
		if c.Status == store.ClassCancelled {
			return problem.New(http.StatusConflict, problem.CodeClassCancelled, "the class was cancelled")
		}
		recs, err := tx.ClassRecordings(ctx, classID)
		if err != nil {
			return err
		}
		for _, r := range recs {
			if Running(r) {
				out = r
				return problem.New(http.StatusConflict, problem.CodeConflict, "the class is being recorded already")
			}
		}
		folder := path.Join(s.cfg.Folder, classID, s.Now().UTC().Format("20060102T150405Z")+"-"+randomHex(4))
		info, err := s.egress.start(ctx, classID, folder)
		if err != nil {
			return s.egressProblem(err)
		}
		by := a.UserID
		u := updateFrom(info, classID)
		u.StartedBy = &by
		out, err = tx.UpsertRecording(ctx, u)
		return err
	})
	if err != nil {
		return out, err
	}
	s.Log.Info("recording started", "class", classID, "egress", out.EgressID)
	return out, nil
}

// Stop asks the recorder of a recording to finish (its teacher or an admin).
func (s *Service) Stop(ctx context.Context, a Actor, egressID string) (store.Recording, error) {
	if s.egress == nil {
		return store.Recording{}, errDisabled
	}
	r, err := s.manage(ctx, a, egressID)
	if err != nil {
		return r, err
	}
	if !Running(r) {
		return r, problem.New(http.StatusConflict, problem.CodeConflict, "the recording has ended already")
	}
	info, err := s.egress.stop(ctx, r.ClassID, egressID)
	if err != nil {
		return r, s.egressProblem(err)
	}
	return s.Store.UpsertRecording(ctx, updateFrom(info, r.ClassID))
}

// manage loads a recording its teacher or an admin may manage.
func (s *Service) manage(ctx context.Context, a Actor, egressID string) (store.Recording, error) {
	r, err := s.Store.RecordingByID(ctx, egressID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.State == store.RecordingDeleted) {
		return r, errNoRec
	}
	if err != nil {
		return r, err
	}
	if r.TeacherID != a.UserID && !a.admin() {
		return r, errNotTeach
	}
	return r, nil
}

// Delete removes a finished recording's objects and marks it deleted (its teacher or an
// admin). A running recording must be stopped first.
func (s *Service) Delete(ctx context.Context, a Actor, egressID string) error {
	if s.objects == nil {
		return errDisabled
	}
	r, err := s.manage(ctx, a, egressID)
	if err != nil {
		return err
	}
	if Running(r) {
		return problem.New(http.StatusConflict, problem.CodeConflict, "stop the recording before deleting it")
	}
	return s.remove(ctx, r)
}

func (s *Service) remove(ctx context.Context, r store.Recording) error {
	n, err := s.objects.removeFolder(ctx, r.PlaylistKey)
	if err != nil {
		return err
	}
	if err := s.Store.MarkRecordingDeleted(ctx, r.EgressID, s.Now()); err != nil {
		return err
	}
	s.Log.Info("recording deleted", "class", r.ClassID, "egress", r.EgressID, "objects", n)
	return nil
}

// SetSettings stores a class's recording settings (its teacher or an admin). retentionDays
// nil keeps the configured default.
func (s *Service) SetSettings(ctx context.Context, a Actor, rs store.RecordingSettings) error {
	c, err := s.class(ctx, s.Store, rs.ClassID)
	if err != nil {
		return err
	}
	if c.TeacherID != a.UserID && !a.admin() {
		return errNotTeach
	}
	if rs.RetentionDays != nil && (*rs.RetentionDays < 1 || *rs.RetentionDays > 3650) {
		return problem.Validation(map[string]string{"retention_days": "must be between 1 and 3650"})
	}
	if rs.AutoRecord && !c.Recordable {
		return problem.Validation(map[string]string{"auto_record": "the class is not marked \"may be recorded\""})
	}
	return s.Store.SetClassRecordingSettings(ctx, rs)
}

// Usage is a teacher's stored recordings and their total size.
func (s *Service) Usage(ctx context.Context, teacherID string) ([]store.Recording, int64, error) {
	recs, err := s.Store.TeacherRecordings(ctx, teacherID)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.Store.TeacherStorageBytes(ctx, teacherID)
	return recs, n, err
}

// fileRE is what a recording's objects are called (index.m3u8, init_0.mp4, seg_12.m4s):
// no folders, no leading dot, so a request can name nothing outside the recording.
var fileRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,99}\.(m3u8|mp4|m4s)$`)

// Media opens one object of a recording for a viewer allowed to watch it (teacher, admin,
// booked student; a waitlisted student while it runs): the authorizing proxy behind
// playback. The caller closes it.
func (s *Service) Media(ctx context.Context, a Actor, egressID, file string) (Object, string, error) {
	if s.objects == nil {
		return Object{}, "", errDisabled
	}
	if !fileRE.MatchString(file) {
		return Object{}, "", errNoRec
	}
	r, err := s.Store.RecordingByID(ctx, egressID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.State == store.RecordingDeleted) {
		return Object{}, "", errNoRec
	}
	if err != nil {
		return Object{}, "", err
	}
	c, err := s.class(ctx, s.Store, r.ClassID)
	if err != nil {
		return Object{}, "", err
	}
	acc, err := s.access(ctx, a, c)
	if err != nil {
		return Object{}, "", err
	}
	if !acc.mayOpen(r) {
		if acc == AccessLive {
			return Object{}, "", errLiveEnded
		}
		return Object{}, "", errNotBooked
	}
	obj, err := s.objects.open(ctx, path.Join(path.Dir(r.PlaylistKey), file))
	if errors.Is(err, errNoObject) {
		return Object{}, "", problem.New(http.StatusNotFound, problem.CodeNotFound, "no such file in this recording")
	}
	return obj, contentType(file), err
}

// contentType is what players expect for each HLS object.
func contentType(file string) string {
	switch path.Ext(file) {
	case ".m3u8":
		return "application/vnd.apple.mpegurl"
	case ".m4s":
		return "video/iso.segment"
	case ".mp4":
		return "video/mp4"
	}
	return mime.TypeByExtension(path.Ext(file))
}

// HandleEgressEvent records an egress webhook (egress_started, _updated, _ended) for a
// class room. Each event id is processed once; events for rooms that are not classes are
// acknowledged and ignored.
func (s *Service) HandleEgressEvent(ctx context.Context, ev *livekit.WebhookEvent) error {
	info := ev.GetEgressInfo()
	classID := info.GetRoomName()
	if info.GetEgressId() == "" || !uuidRE.MatchString(classID) {
		s.Log.Info("egress webhook for a non-class room ignored", "event", ev.Event)
		return nil
	}
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		fresh, err := tx.MarkWebhookEvent(ctx, ev.Id, "livekit", ev.Event)
		if err != nil || !fresh {
			return err
		}
		if _, err := tx.ClassByID(ctx, classID); errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		rs, err := tx.ClassRecordingSettings(ctx, classID)
		if err != nil {
			return err
		}
		u := updateFrom(info, classID)
		u.RetentionDays = s.retention(rs)
		r, err := tx.UpsertRecording(ctx, u)
		if err != nil {
			return fmt.Errorf("recordings: webhook %s: %w", ev.Event, err)
		}
		s.Log.Info("recording event", "event", ev.Event, "class", classID, "egress", r.EgressID, "state", r.State,
			"duration_s", r.DurationSeconds, "bytes", r.SizeBytes)
		if r.State == store.RecordingComplete {
			return s.notifyReady(ctx, tx, r)
		}
		return nil
	})
}

// notifyReady tells the teacher and the booked students that a recording can be watched,
// once per recording and person (the dedupe key), however often the end is reported.
func (s *Service) notifyReady(ctx context.Context, tx *store.Store, r store.Recording) error {
	c, err := tx.ClassByID(ctx, r.ClassID)
	if err != nil {
		return err
	}
	students, err := tx.ConfirmedStudents(ctx, r.ClassID)
	if err != nil {
		return err
	}
	for _, uid := range append([]string{c.TeacherID}, students...) {
		if err := tx.InsertNotification(ctx, store.Notification{UserID: uid, Kind: notify.KindRecording,
			Title: "Recording ready: " + c.Title, Body: "The recording of the class can be watched now.",
			Data:      map[string]any{"class_id": c.ID, "recording_id": r.EgressID},
			DedupeKey: "recording_ready:" + r.EgressID, CreatedAt: s.Now()}); err != nil {
			return err
		}
	}
	return nil
}

// TeacherJoined starts recording when the teacher of a class marked "may be recorded" and
// "record automatically" joins its room and nothing records it yet. Failures are logged:
// the join itself must not fail because recording could not start.
func (s *Service) TeacherJoined(ctx context.Context, classID, teacherID string) {
	if s.egress == nil {
		return
	}
	rs, err := s.Store.ClassRecordingSettings(ctx, classID)
	if err != nil || !rs.AutoRecord {
		if err != nil {
			s.Log.Warn("auto-record: settings", "class", classID, "err", err)
		}
		return
	}
	_, err = s.Start(ctx, Actor{UserID: teacherID}, classID)
	if p, ok := problem.As(err); ok && p.Status == http.StatusConflict {
		return // already recording, or no longer recordable
	}
	if err != nil {
		s.Log.Warn("auto-record: start failed", "class", classID, "err", err)
	}
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// updateFrom turns an EgressInfo into a recording update.
func updateFrom(info *livekit.EgressInfo, classID string) store.RecordingUpdate {
	u := store.RecordingUpdate{EgressID: info.GetEgressId(), ClassID: classID, Error: info.GetError(), Details: info.GetDetails()}
	switch info.GetStatus() {
	case livekit.EgressStatus_EGRESS_STARTING:
		u.State = store.RecordingStarting
	case livekit.EgressStatus_EGRESS_ACTIVE:
		u.State = store.RecordingActive
	case livekit.EgressStatus_EGRESS_ENDING:
		u.State = store.RecordingEnding
	case livekit.EgressStatus_EGRESS_COMPLETE:
		u.State = store.RecordingComplete
	default: // failed, aborted, limit reached
		u.State = store.RecordingFailed
	}
	if seg := info.GetSegmentResults(); len(seg) > 0 {
		u.PlaylistKey = strings.TrimPrefix(seg[0].GetPlaylistName(), "/")
		u.DurationSeconds = float64(seg[0].GetDuration()) / float64(time.Second)
		u.SizeBytes = seg[0].GetSize()
	}
	if ns := info.GetStartedAt(); ns > 0 {
		t := time.Unix(0, ns)
		u.StartedAt = &t
	}
	if ns := info.GetEndedAt(); ns > 0 {
		t := time.Unix(0, ns)
		u.EndedAt = &t
	}
	return u
}

// egressProblem maps Egress API failures to what the teacher is told.
func (s *Service) egressProblem(err error) error {
	var te twirp.Error
	if errors.As(err, &te) && te.Code() == twirp.NotFound {
		return errNoRec
	}
	s.Log.Warn("egress API call failed", "err", err)
	return problem.New(http.StatusBadGateway, problem.CodeUnavailable, "the media server did not accept the recording request; try again")
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
