package store

import (
	"context"
	"time"
)

// StripeEvent is a received Stripe webhook event.
type StripeEvent struct {
	ID        string
	Type      string
	Status    string // processed, ignored, failed
	Attempts  int
	LastError string
	Payload   []byte
}

// StripeEventStatus returns the stored status of event id; ErrNotFound if never stored.
func (s *Store) StripeEventStatus(ctx context.Context, id string) (string, error) {
	var st string
	err := s.db.QueryRow(ctx, `SELECT status FROM stripe_events WHERE id = $1`, id).Scan(&st)
	return st, wrap("stripe event status", err)
}

// InsertStripeEvent stores an event once; fresh is false if its id was already stored (a
// concurrent insert waits for the other transaction, then reports false).
func (s *Store) InsertStripeEvent(ctx context.Context, e StripeEvent, now time.Time) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO stripe_events (id, type, status, last_error, payload, received_at, processed_at)
		VALUES ($1, $2, $3, $4, $5, $6, CASE WHEN $3 = 'failed' THEN NULL ELSE $6::timestamptz END)
		ON CONFLICT (id) DO NOTHING`, e.ID, e.Type, e.Status, truncate(e.LastError, 500), e.Payload, now)
	if err != nil {
		return false, wrap("insert stripe event", err)
	}
	return tag.RowsAffected() == 1, nil
}

// StripeEventForUpdate returns a stored event and locks it.
func (s *Store) StripeEventForUpdate(ctx context.Context, id string) (StripeEvent, error) {
	var e StripeEvent
	err := s.db.QueryRow(ctx, `SELECT id, type, status, attempts, last_error, payload FROM stripe_events
		WHERE id = $1 FOR UPDATE`, id).Scan(&e.ID, &e.Type, &e.Status, &e.Attempts, &e.LastError, &e.Payload)
	return e, wrap("stripe event for update", err)
}

// SetStripeEventStatus records the result of (re)processing an event.
func (s *Store) SetStripeEventStatus(ctx context.Context, id, status, lastError string, now time.Time) error {
	return s.exec1(ctx, "set stripe event status", `UPDATE stripe_events SET status = $2, last_error = $3,
		attempts = attempts + 1, processed_at = CASE WHEN $2 = 'failed' THEN processed_at ELSE $4::timestamptz END
		WHERE id = $1`, id, status, truncate(lastError, 500), now)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// ReconciliationRun is one comparison of Stripe's payments with the ledger.
type ReconciliationRun struct {
	ID            int64
	StartedAt     time.Time
	FinishedAt    time.Time
	Checked       int
	Fixed         int
	Discrepancies []LedgerDiscrepancy
}

// InsertReconciliationRun stores a run.
func (s *Store) InsertReconciliationRun(ctx context.Context, r ReconciliationRun) (int64, error) {
	type d struct {
		Check   string `json:"check"`
		Subject string `json:"subject"`
		Detail  string `json:"detail"`
	}
	ds := make([]d, 0, len(r.Discrepancies))
	for _, x := range r.Discrepancies {
		ds = append(ds, d(x))
	}
	var id int64
	err := s.db.QueryRow(ctx, `INSERT INTO reconciliation_runs (started_at, finished_at, checked, fixed, discrepancies)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, r.StartedAt, r.FinishedAt, r.Checked, r.Fixed, ds).Scan(&id)
	return id, wrap("insert reconciliation run", err)
}

// ReconciliationRuns returns the latest runs, newest first.
func (s *Store) ReconciliationRuns(ctx context.Context, limit int) ([]ReconciliationRun, error) {
	rows, err := s.db.Query(ctx, `SELECT id, started_at, finished_at, checked, fixed, discrepancies
		FROM reconciliation_runs ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, wrap("reconciliation runs", err)
	}
	defer rows.Close()
	var out []ReconciliationRun
	for rows.Next() {
		var r ReconciliationRun
		var ds []struct {
			Check   string `json:"check"`
			Subject string `json:"subject"`
			Detail  string `json:"detail"`
		}
		if err := rows.Scan(&r.ID, &r.StartedAt, &r.FinishedAt, &r.Checked, &r.Fixed, &ds); err != nil {
			return nil, wrap("reconciliation runs", err)
		}
		for _, d := range ds {
			r.Discrepancies = append(r.Discrepancies, LedgerDiscrepancy(d))
		}
		out = append(out, r)
	}
	return out, wrap("reconciliation runs", rows.Err())
}
