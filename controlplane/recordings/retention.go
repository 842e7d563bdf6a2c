package recordings

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// SweepArgs is the periodic River job that deletes recordings past their retention.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "recordings.retention" }

// InsertOpts keeps at most one sweep queued at a time.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: time.Minute}}
}

// SweepWorker runs Service.DeleteExpired. Service may be set after registration.
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Service *Service
}

// Timeout bounds one sweep.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return 10 * time.Minute }

// Work deletes expired recordings.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	_, err := w.Service.DeleteExpired(ctx)
	return err
}

// sweepBatch bounds one sweep's work; the next sweep continues.
const sweepBatch = 100

// DeleteExpired deletes the objects of recordings whose retention has ended and marks them
// deleted; it returns how many. A recording whose objects could not be deleted stays listed
// and is retried by the next sweep.
func (s *Service) DeleteExpired(ctx context.Context) (int, error) {
	if s.objects == nil {
		return 0, nil
	}
	recs, err := s.Store.ExpiredRecordings(ctx, s.Now(), sweepBatch)
	if err != nil {
		return 0, err
	}
	n := 0
	var first error
	for _, r := range recs {
		if err := s.remove(ctx, r); err != nil {
			s.Log.Warn("retention: delete failed", "egress", r.EgressID, "err", err)
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	if n > 0 {
		s.Log.Info("retention: recordings deleted", "count", n)
	}
	return n, first
}
