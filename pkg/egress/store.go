// Package egress holds recording jobs and serves the subset of LiveKit's Egress Twirp API
// Atrium implements. The job store lives in Redis: SFU nodes and gateways create and stop
// jobs through the API, recorders claim each job through a lease (exactly one recorder
// records a job at a time) and take it over when the lease of a dead recorder expires.
// It imports no service, so the SFU, the gateway and the recorder can all use it.
package egress

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Job states, in LiveKit's EgressStatus vocabulary.
const (
	StateStarting = "starting"
	StateActive   = "active"
	StateEnding   = "ending"
	StateComplete = "complete"
	StateFailed   = "failed"
)

// ErrNotFound is returned for an unknown job id.
var ErrNotFound = errors.New("egress: job not found")

// Job is one recording job.
type Job struct {
	ID   string `json:"id"`
	Room string `json:"room"`
	// KeyPrefix is the object folder (playlist and segments); empty: recordings/<ID>.
	KeyPrefix string `json:"key_prefix,omitempty"`
	// PlaylistName is the playlist object's name under KeyPrefix (index.m3u8).
	PlaylistName string `json:"playlist_name,omitempty"`
	// Teacher is whose camera is recorded; empty: the first camera published.
	Teacher string `json:"teacher,omitempty"`
	// VideoTrack and AudioTrack pin the recorded tracks by id (TrackCompositeEgress);
	// empty: the teacher's camera and the first audio track.
	VideoTrack string `json:"video_track,omitempty"`
	AudioTrack string `json:"audio_track,omitempty"`
	// Kind is "room_composite" or "track_composite": which request created the job.
	Kind      string `json:"kind,omitempty"`
	State     string `json:"state"`
	Error     string `json:"error,omitempty"`
	CreatedAt int64  `json:"created_at"` // unix nanoseconds
	StartedAt int64  `json:"started_at,omitempty"`
	EndedAt   int64  `json:"ended_at,omitempty"`
	// Holder is the recorder that holds (or last held) the lease.
	Holder string `json:"holder,omitempty"`
	// Attempts counts recorder runs that failed without finishing (ffmpeg or storage
	// errors); a job fails after three.
	Attempts int `json:"attempts,omitempty"`
	// Takeovers counts how often another recorder continued the job.
	Takeovers int `json:"takeovers,omitempty"`
	// Gaps are the stretches of class missing from the recording, reported, not hidden.
	Gaps []Gap `json:"gaps,omitempty"`
	// Segments and Duration summarise what is stored.
	Segments int     `json:"segments"`
	Duration float64 `json:"duration"`
	Bytes    int64   `json:"bytes"`
	// LastSegmentAt is when the last segment was stored (unix nanoseconds).
	LastSegmentAt int64 `json:"last_segment_at,omitempty"`
}

// Gap is a hole in a recording: a recorder died after segment AfterSeq and its successor's
// first segment started Seconds later.
type Gap struct {
	AfterSeq int     `json:"after_seq"`
	Seconds  float64 `json:"seconds"`
}

// Store is the Redis job store. Safe for concurrent use.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// NewStore uses rdb with keys under prefix (e.g. "atrium:rec").
func NewStore(rdb redis.UniversalClient, prefix string) *Store {
	return &Store{rdb: rdb, prefix: prefix}
}

func (s *Store) k(parts ...string) string {
	k := s.prefix
	for _, p := range parts {
		k += ":" + p
	}
	return k
}

// Create stores a new job in state starting and makes it claimable.
func (s *Store) Create(ctx context.Context, j Job) error {
	if j.ID == "" || j.Room == "" {
		return errors.New("egress: job needs an id and a room")
	}
	j.State = StateStarting
	if j.CreatedAt == 0 {
		j.CreatedAt = time.Now().UnixNano()
	}
	raw, err := json.Marshal(j)
	if err != nil {
		return err
	}
	ok, err := s.rdb.SetNX(ctx, s.k("job", j.ID), raw, 0).Result()
	if err != nil {
		return fmt.Errorf("egress: create %s: %w", j.ID, err)
	}
	if !ok {
		return fmt.Errorf("egress: job %s already exists", j.ID)
	}
	pipe := s.rdb.TxPipeline()
	pipe.SAdd(ctx, s.k("open"), j.ID)
	pipe.ZAdd(ctx, s.k("all"), redis.Z{Score: float64(j.CreatedAt), Member: j.ID})
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("egress: create %s: %w", j.ID, err)
	}
	return nil
}

// Get returns one job.
func (s *Store) Get(ctx context.Context, id string) (Job, error) {
	raw, err := s.rdb.Get(ctx, s.k("job", id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return Job{}, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return Job{}, fmt.Errorf("egress: get %s: %w", id, err)
	}
	var j Job
	if err := json.Unmarshal(raw, &j); err != nil {
		return Job{}, fmt.Errorf("egress: job %s: %w", id, err)
	}
	return j, nil
}

// List returns jobs, newest first; room filters when not empty, active keeps only jobs
// not yet complete or failed.
func (s *Store) List(ctx context.Context, room string, active bool) ([]Job, error) {
	ids, err := s.rdb.ZRevRange(ctx, s.k("all"), 0, 999).Result()
	if err != nil {
		return nil, fmt.Errorf("egress: list: %w", err)
	}
	var out []Job
	for _, id := range ids {
		j, err := s.Get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if room != "" && j.Room != room {
			continue
		}
		if active && (j.State == StateComplete || j.State == StateFailed) {
			continue
		}
		out = append(out, j)
	}
	return out, nil
}

// Open returns the ids of jobs not yet complete or failed: what recorders try to claim.
func (s *Store) Open(ctx context.Context) ([]string, error) {
	ids, err := s.rdb.SMembers(ctx, s.k("open")).Result()
	if err != nil {
		return nil, fmt.Errorf("egress: open jobs: %w", err)
	}
	return ids, nil
}

// Update applies f to the stored job atomically (optimistic transaction, retried).
func (s *Store) Update(ctx context.Context, id string, f func(*Job) error) (Job, error) {
	key := s.k("job", id)
	var out Job
	for range 20 {
		err := s.rdb.Watch(ctx, func(tx *redis.Tx) error {
			raw, err := tx.Get(ctx, key).Bytes()
			if errors.Is(err, redis.Nil) {
				return fmt.Errorf("%w: %s", ErrNotFound, id)
			}
			if err != nil {
				return err
			}
			var j Job
			if err := json.Unmarshal(raw, &j); err != nil {
				return err
			}
			if err := f(&j); err != nil {
				return err
			}
			nraw, err := json.Marshal(j)
			if err != nil {
				return err
			}
			_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
				p.Set(ctx, key, nraw, 0)
				if j.State == StateComplete || j.State == StateFailed {
					p.SRem(ctx, s.k("open"), id)
				}
				return nil
			})
			out = j
			return err
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if err != nil {
			return Job{}, fmt.Errorf("egress: update %s: %w", id, err)
		}
		return out, nil
	}
	return Job{}, fmt.Errorf("egress: update %s: too much contention", id)
}

// RequestStop asks the job's recorder to finish: it flushes, stores the VOD playlist and
// completes the job. A job no recorder has started yet completes at once.
func (s *Store) RequestStop(ctx context.Context, id string) (Job, error) {
	return s.Update(ctx, id, func(j *Job) error {
		switch j.State {
		case StateComplete, StateFailed:
			return fmt.Errorf("egress: job %s already %s", id, j.State)
		case StateStarting:
			if j.Segments == 0 && j.Holder == "" {
				j.State = StateComplete
				j.EndedAt = time.Now().UnixNano()
				return nil
			}
		}
		j.State = StateEnding
		return nil
	})
}

// AppendSegment records one stored segment (opaque JSON the recorder understands) and
// updates the job's totals.
func (s *Store) AppendSegment(ctx context.Context, id string, seg []byte, seconds float64, bytes int64) error {
	if err := s.rdb.RPush(ctx, s.k("segs", id), seg).Err(); err != nil {
		return fmt.Errorf("egress: segment of %s: %w", id, err)
	}
	_, err := s.Update(ctx, id, func(j *Job) error {
		j.Segments++
		j.Duration += seconds
		j.Bytes += bytes
		j.LastSegmentAt = time.Now().UnixNano()
		return nil
	})
	return err
}

// Segments returns what AppendSegment stored, in order.
func (s *Store) Segments(ctx context.Context, id string) ([][]byte, error) {
	v, err := s.rdb.LRange(ctx, s.k("segs", id), 0, -1).Result()
	if err != nil {
		return nil, fmt.Errorf("egress: segments of %s: %w", id, err)
	}
	out := make([][]byte, len(v))
	for i, x := range v {
		out[i] = []byte(x)
	}
	return out, nil
}

// Claim takes the job's lease for holder for ttl; false when another holder has it.
func (s *Store) Claim(ctx context.Context, id, holder string, ttl time.Duration) (bool, error) {
	ok, err := s.rdb.SetNX(ctx, s.k("lease", id), holder, ttl).Result()
	if err != nil {
		return false, fmt.Errorf("egress: claim %s: %w", id, err)
	}
	return ok, nil
}

var renewScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("PEXPIRE", KEYS[1], ARGV[2])
end
return 0`)

var releaseScript = redis.NewScript(`
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0`)

// Renew extends holder's lease; false when the lease was lost (expired and maybe taken).
func (s *Store) Renew(ctx context.Context, id, holder string, ttl time.Duration) (bool, error) {
	n, err := renewScript.Run(ctx, s.rdb, []string{s.k("lease", id)}, holder, ttl.Milliseconds()).Int()
	if err != nil {
		return false, fmt.Errorf("egress: renew %s: %w", id, err)
	}
	return n == 1, nil
}

// Release drops holder's lease (another recorder may claim the job at once).
func (s *Store) Release(ctx context.Context, id, holder string) error {
	if err := releaseScript.Run(ctx, s.rdb, []string{s.k("lease", id)}, holder).Err(); err != nil {
		return fmt.Errorf("egress: release %s: %w", id, err)
	}
	return nil
}
