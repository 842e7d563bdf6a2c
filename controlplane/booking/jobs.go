package booking

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// SweepArgs is the periodic River job that runs Service.Sweep.
type SweepArgs struct{}

// Kind implements river.JobArgs.
func (SweepArgs) Kind() string { return "booking.sweep" }

// InsertOpts keeps at most one sweep queued at a time.
func (SweepArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 3, UniqueOpts: river.UniqueOpts{ByArgs: true, ByPeriod: 30 * time.Second}}
}

// SweepWorker runs the sweep. Service may be set after the worker is registered (River
// needs workers before the client that the service's outbox uses exists).
type SweepWorker struct {
	river.WorkerDefaults[SweepArgs]
	Service *Service
}

// Timeout bounds one sweep.
func (w *SweepWorker) Timeout(*river.Job[SweepArgs]) time.Duration { return 2 * time.Minute }

// Work runs one sweep.
func (w *SweepWorker) Work(ctx context.Context, _ *river.Job[SweepArgs]) error {
	res, err := w.Service.Sweep(ctx)
	if err != nil {
		return err
	}
	if len(res.Outcomes) > 0 || res.OfferClasses > 0 || res.Reminders > 0 {
		w.Service.Log.Info("booking sweep", "outcomes", res.Outcomes, "offer_classes", res.OfferClasses,
			"reminders", res.Reminders)
	}
	return nil
}
