package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Recording states (LiveKit's egress vocabulary, plus deleted).
const (
	RecordingStarting = "starting"
	RecordingActive   = "active"
	RecordingEnding   = "ending"
	RecordingComplete = "complete"
	RecordingFailed   = "failed"
	RecordingDeleted  = "deleted"
)

// Recording is one recording of a class room (one egress).
type Recording struct {
	EgressID        string
	ClassID         string
	TeacherID       string // the class's teacher (joined in)
	State           string
	PlaylistKey     string // S3 object key of the playlist; its folder holds the segments
	StartedBy       *string
	StartedAt       *time.Time
	EndedAt         *time.Time
	DurationSeconds float64
	SizeBytes       int64
	Error           string
	Details         string
	ExpiresAt       *time.Time
	DeletedAt       *time.Time
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// RecordingUpdate is what an egress event says about a recording.
type RecordingUpdate struct {
	EgressID        string
	ClassID         string
	State           string
	PlaylistKey     string
	StartedBy       *string // only stored when the row is created
	StartedAt       *time.Time
	EndedAt         *time.Time
	DurationSeconds float64
	SizeBytes       int64
	Error           string
	Details         string
	// RetentionDays, when the update ends the recording, sets expires_at = ended_at + days.
	RetentionDays int
}

const recordingCols = `r.egress_id, r.class_id, c.teacher_id, r.state, r.playlist_key, r.started_by, r.started_at,
	r.ended_at, r.duration_seconds, r.size_bytes, r.error, r.details, r.expires_at, r.deleted_at, r.created_at, r.updated_at`

const recordingFrom = ` FROM recordings r JOIN classes c ON c.id = r.class_id`

func scanRecording(row interface{ Scan(...any) error }) (Recording, error) {
	var r Recording
	err := row.Scan(&r.EgressID, &r.ClassID, &r.TeacherID, &r.State, &r.PlaylistKey, &r.StartedBy, &r.StartedAt,
		&r.EndedAt, &r.DurationSeconds, &r.SizeBytes, &r.Error, &r.Details, &r.ExpiresAt, &r.DeletedAt, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

// recordingRank orders states so that late or repeated events never move a recording
// backwards (an egress_updated arriving after egress_ended, a retried egress_started).
const recordingRank = `CASE %s WHEN 'starting' THEN 0 WHEN 'active' THEN 1 WHEN 'ending' THEN 2
	WHEN 'complete' THEN 3 WHEN 'failed' THEN 3 WHEN 'deleted' THEN 4 END`

// UpsertRecording creates or advances a recording from an egress event. A state never moves
// backwards (see recordingRank) and a deleted recording stays deleted; figures (duration,
// size) only grow. Returns the stored recording.
func (s *Store) UpsertRecording(ctx context.Context, u RecordingUpdate) (Recording, error) {
	rank := func(col string) string { return fmt.Sprintf(recordingRank, col) }
	_, err := s.db.Exec(ctx, `INSERT INTO recordings AS r (egress_id, class_id, state, playlist_key, started_by, started_at,
			ended_at, duration_seconds, size_bytes, error, details, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11,
			CASE WHEN $3 IN ('complete', 'failed') AND $12 > 0 THEN COALESCE($7, now()) + make_interval(days => $12) END)
		ON CONFLICT (egress_id) DO UPDATE SET
			state = CASE WHEN `+rank("EXCLUDED.state")+` > `+rank("r.state")+` THEN EXCLUDED.state ELSE r.state END,
			playlist_key = CASE WHEN EXCLUDED.playlist_key <> '' THEN EXCLUDED.playlist_key ELSE r.playlist_key END,
			started_at = COALESCE(r.started_at, EXCLUDED.started_at),
			ended_at = COALESCE(r.ended_at, EXCLUDED.ended_at),
			duration_seconds = GREATEST(r.duration_seconds, EXCLUDED.duration_seconds),
			size_bytes = CASE WHEN r.state = 'deleted' THEN r.size_bytes ELSE GREATEST(r.size_bytes, EXCLUDED.size_bytes) END,
			error = CASE WHEN EXCLUDED.error <> '' THEN EXCLUDED.error ELSE r.error END,
			details = CASE WHEN EXCLUDED.details <> '' THEN EXCLUDED.details ELSE r.details END,
			expires_at = COALESCE(r.expires_at, EXCLUDED.expires_at),
			updated_at = now()
		WHERE r.class_id = EXCLUDED.class_id`,
		u.EgressID, u.ClassID, u.State, u.PlaylistKey, u.StartedBy, u.StartedAt, u.EndedAt, u.DurationSeconds,
		u.SizeBytes, u.Error, u.Details, u.RetentionDays)
	if err != nil {
		return Recording{}, wrap("upsert recording", err)
	}
	return s.RecordingByID(ctx, u.EgressID)
}

// RecordingByID returns one recording (deleted ones too).
func (s *Store) RecordingByID(ctx context.Context, egressID string) (Recording, error) {
	r, err := scanRecording(s.db.QueryRow(ctx, `SELECT `+recordingCols+recordingFrom+` WHERE r.egress_id = $1`, egressID))
	return r, wrap("recording by id", err)
}

// ClassRecordings returns a class's recordings that are not deleted, oldest first.
func (s *Store) ClassRecordings(ctx context.Context, classID string) ([]Recording, error) {
	return s.queryRecordings(ctx, "class recordings", `SELECT `+recordingCols+recordingFrom+`
		WHERE r.class_id = $1 AND r.state <> 'deleted' ORDER BY r.created_at, r.egress_id`, classID)
}

// TeacherRecordings returns the recordings of a teacher's classes that are not deleted,
// newest first.
func (s *Store) TeacherRecordings(ctx context.Context, teacherID string) ([]Recording, error) {
	return s.queryRecordings(ctx, "teacher recordings", `SELECT `+recordingCols+recordingFrom+`
		WHERE c.teacher_id = $1 AND r.state <> 'deleted' ORDER BY r.created_at DESC, r.egress_id`, teacherID)
}

// ExpiredRecordings returns up to limit recordings whose retention ended before now.
func (s *Store) ExpiredRecordings(ctx context.Context, now time.Time, limit int) ([]Recording, error) {
	return s.queryRecordings(ctx, "expired recordings", `SELECT `+recordingCols+recordingFrom+`
		WHERE r.state <> 'deleted' AND r.expires_at <= $1 ORDER BY r.expires_at LIMIT $2`, now, limit)
}

func (s *Store) queryRecordings(ctx context.Context, op, sql string, args ...any) ([]Recording, error) {
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []Recording
	for rows.Next() {
		r, err := scanRecording(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, r)
	}
	return out, wrap(op, rows.Err())
}

// MarkRecordingDeleted marks a recording deleted (its objects are gone) and stops it
// counting towards storage.
func (s *Store) MarkRecordingDeleted(ctx context.Context, egressID string, at time.Time) error {
	return s.exec1(ctx, "mark recording deleted", `UPDATE recordings SET state = 'deleted', deleted_at = $2,
		updated_at = now() WHERE egress_id = $1`, egressID, at)
}

// TeacherStorageBytes is the size of a teacher's stored recordings.
func (s *Store) TeacherStorageBytes(ctx context.Context, teacherID string) (int64, error) {
	var n int64
	err := s.db.QueryRow(ctx, `SELECT COALESCE(sum(r.size_bytes), 0)::bigint`+recordingFrom+`
		WHERE c.teacher_id = $1 AND r.state <> 'deleted'`, teacherID).Scan(&n)
	return n, wrap("teacher storage", err)
}

// RecordingSettings are a class's recording options.
type RecordingSettings struct {
	ClassID       string
	AutoRecord    bool
	RetentionDays *int // nil: the configured default
}

// ClassRecordingSettings returns a class's settings (defaults when none were stored).
func (s *Store) ClassRecordingSettings(ctx context.Context, classID string) (RecordingSettings, error) {
	rs := RecordingSettings{ClassID: classID}
	err := s.db.QueryRow(ctx, `SELECT auto_record, retention_days FROM class_recording_settings WHERE class_id = $1`,
		classID).Scan(&rs.AutoRecord, &rs.RetentionDays)
	if err = wrap("class recording settings", err); err != nil && !errors.Is(err, ErrNotFound) {
		return rs, err
	}
	return rs, nil
}

// SetClassRecordingSettings stores a class's settings.
func (s *Store) SetClassRecordingSettings(ctx context.Context, rs RecordingSettings) error {
	_, err := s.db.Exec(ctx, `INSERT INTO class_recording_settings (class_id, auto_record, retention_days)
		VALUES ($1, $2, $3) ON CONFLICT (class_id) DO UPDATE SET auto_record = EXCLUDED.auto_record,
		retention_days = EXCLUDED.retention_days, updated_at = now()`, rs.ClassID, rs.AutoRecord, rs.RetentionDays)
	return wrap("set class recording settings", err)
}
