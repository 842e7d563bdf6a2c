package email

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/store"
)

// DeliverArgs is the River job that delivers one outbox row.
type DeliverArgs struct {
	OutboxID int64 `json:"outbox_id"`
}

// Kind implements river.JobArgs.
func (DeliverArgs) Kind() string { return "email.deliver" }

// InsertOpts gives delivery jobs their own queue and a generous retry budget (River backs
// off exponentially between attempts).
func (DeliverArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: Queue, MaxAttempts: 12}
}

// Queue is the River queue email jobs run on.
const Queue = "email"

// JobInserter is the part of *river.Client the outbox needs.
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Message is an email to queue.
type Message struct {
	To   string
	Kind string
	Data map[string]any // template data; must include Name
	// Attachments go after the text and HTML parts (the .ics invite of a booking).
	Attachments []store.Attachment
}

// Outbox queues rendered messages. Safe for concurrent use.
type Outbox struct {
	r    *Renderer
	jobs JobInserter
}

// NewOutbox returns an Outbox rendering with r and enqueuing delivery jobs on jobs.
func NewOutbox(r *Renderer, jobs JobInserter) *Outbox { return &Outbox{r: r, jobs: jobs} }

// Enqueue renders m, stores it in the outbox and inserts its delivery job, in st's
// transaction (or a new one if st is not in a transaction). An optional email whose
// recipient turned its kind off (notification preferences, notify.ForEmail) is dropped here,
// so no caller can forget the preference.
func (o *Outbox) Enqueue(ctx context.Context, st *store.Store, m Message) error {
	if kind, optional := notify.ForEmail(m.Kind); optional {
		wanted, err := st.EmailWanted(ctx, m.To, kind)
		if err != nil {
			return fmt.Errorf("email: enqueue %s: %w", m.Kind, err)
		}
		if !wanted {
			return nil
		}
	}
	msg, err := o.r.Render(m.Kind, m.Data)
	if err != nil {
		return err
	}
	return st.InTx(ctx, func(tx *store.Store) error {
		id, err := tx.InsertOutbox(ctx, store.OutboxMessage{To: m.To, Kind: m.Kind, Subject: msg.Subject,
			TextBody: msg.Text, HTMLBody: msg.HTML, Attachments: m.Attachments})
		if err != nil {
			return fmt.Errorf("email: enqueue %s: %w", m.Kind, err)
		}
		if _, err := o.jobs.InsertTx(ctx, tx.Tx(), DeliverArgs{OutboxID: id}, nil); err != nil {
			return fmt.Errorf("email: enqueue %s job: %w", m.Kind, err)
		}
		return nil
	})
}

// DeliverWorker sends outbox rows. A row already sent is skipped, so a job retried after a
// crash between sending and recording sends at most one duplicate, never loses the email.
type DeliverWorker struct {
	river.WorkerDefaults[DeliverArgs]
	Store  *store.Store
	Sender *Sender
	Log    *slog.Logger
}

// Timeout bounds one attempt.
func (w *DeliverWorker) Timeout(*river.Job[DeliverArgs]) time.Duration { return 30 * time.Second }

// Work delivers the outbox row of job.
func (w *DeliverWorker) Work(ctx context.Context, job *river.Job[DeliverArgs]) error {
	m, err := w.Store.OutboxByID(ctx, job.Args.OutboxID)
	if err != nil {
		return fmt.Errorf("email deliver %d: %w", job.Args.OutboxID, err)
	}
	if m.Status != "pending" {
		return nil
	}
	if err := w.Sender.Send(ctx, m.To, Rendered{Subject: m.Subject, Text: m.TextBody, HTML: m.HTMLBody,
		Attachments: m.Attachments}); err != nil {
		final := job.Attempt >= job.MaxAttempts
		if merr := w.Store.MarkOutboxAttempt(ctx, m.ID, err.Error(), final); merr != nil {
			w.Log.Error("email: record failed attempt", "outbox_id", m.ID, "err", merr)
		}
		w.Log.Warn("email: delivery failed", "outbox_id", m.ID, "kind", m.Kind, "attempt", job.Attempt, "err", err)
		return err
	}
	if err := w.Store.MarkOutboxSent(ctx, m.ID, time.Now()); err != nil {
		return fmt.Errorf("email deliver %d: mark sent: %w", m.ID, err)
	}
	w.Log.Info("email: sent", "outbox_id", m.ID, "kind", m.Kind)
	return nil
}
