package billing

import (
	"context"
	"time"

	"github.com/riverqueue/river"
)

// StripeEventArgs retries a stored Stripe event whose processing failed.
type StripeEventArgs struct {
	EventID string `json:"event_id"`
}

// Kind implements river.JobArgs.
func (StripeEventArgs) Kind() string { return "billing.stripe_event" }

// InsertOpts gives retries a generous budget (River backs off exponentially).
func (StripeEventArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 20} }

// PayoutTransferArgs pays an approved payout through a Stripe transfer.
type PayoutTransferArgs struct {
	PayoutID string `json:"payout_id"`
}

// Kind implements river.JobArgs.
func (PayoutTransferArgs) Kind() string { return "billing.payout_transfer" }

// InsertOpts gives transfers a generous retry budget.
func (PayoutTransferArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 20} }

// ReconcileArgs runs one reconciliation (periodic).
type ReconcileArgs struct{}

// Kind implements river.JobArgs.
func (ReconcileArgs) Kind() string { return "billing.reconcile" }

// Workers are billing's River workers. Service may be set after they are registered.
type Workers struct {
	Service *Service
}

// Add registers every billing worker.
func (w *Workers) Add(ws *river.Workers) {
	river.AddWorker(ws, &stripeEventWorker{w: w})
	river.AddWorker(ws, &payoutWorker{w: w})
	river.AddWorker(ws, &reconcileWorker{w: w})
}

type stripeEventWorker struct {
	river.WorkerDefaults[StripeEventArgs]
	w *Workers
}

func (x *stripeEventWorker) Work(ctx context.Context, job *river.Job[StripeEventArgs]) error {
	return x.w.Service.retryEvent(ctx, job.Args.EventID)
}

type payoutWorker struct {
	river.WorkerDefaults[PayoutTransferArgs]
	w *Workers
}

func (x *payoutWorker) Work(ctx context.Context, job *river.Job[PayoutTransferArgs]) error {
	return x.w.Service.payOut(ctx, job.Args.PayoutID)
}

type reconcileWorker struct {
	river.WorkerDefaults[ReconcileArgs]
	w *Workers
}

func (x *reconcileWorker) Timeout(*river.Job[ReconcileArgs]) time.Duration { return 5 * time.Minute }

func (x *reconcileWorker) Work(ctx context.Context, _ *river.Job[ReconcileArgs]) error {
	_, err := x.w.Service.Reconcile(ctx)
	return err
}
