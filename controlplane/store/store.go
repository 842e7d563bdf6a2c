// Package store is the control plane's PostgreSQL access: raw SQL on pgx, one file per table.
//
// A *Store is safe for concurrent use. InTx hands the callback a *Store bound to one
// transaction, so any method can run inside a larger unit of work (a business change plus
// its outbox email plus its audit entry) without a second API. Methods return ErrNotFound
// when a row does not exist and ErrConflict on a unique violation; never nil, nil.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

var (
	// ErrNotFound means the row asked for does not exist (or is not visible to the caller).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a unique constraint refused the write.
	ErrConflict = errors.New("store: conflict")
)

// DB is what both a pool and a transaction provide.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Store runs queries on a pool, or on one transaction when obtained from InTx.
type Store struct {
	pool  *pgxpool.Pool
	db    DB
	tx    pgx.Tx
	hooks *[]func() // run after the transaction commits (AfterCommit)
	sink  func(Notification)
}

// New returns a Store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool, db: pool} }

// SetNotificationSink makes every committed InsertNotification call fn with the stored record
// (the real-time hub publishes it). Set it once, before the Store is used.
func (s *Store) SetNotificationSink(fn func(Notification)) { s.sink = fn }

// AfterCommit runs fn once the current transaction has committed, or at once outside a
// transaction. fn must not block for long: it runs on the committing goroutine.
func (s *Store) AfterCommit(fn func()) {
	if s.hooks == nil {
		fn()
		return
	}
	*s.hooks = append(*s.hooks, fn)
}

// Pool returns the underlying pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// DB returns what queries run on: the transaction inside InTx, the pool otherwise. Other
// packages with their own tables (e.g. the ledger) use it to join the same transaction.
func (s *Store) DB() DB { return s.db }

// Tx returns the current transaction, or nil outside InTx (River's InsertTx needs it).
func (s *Store) Tx() pgx.Tx { return s.tx }

// InTx runs fn in a transaction, committed if fn returns nil and rolled back otherwise.
// Called on a Store already in a transaction, fn joins that transaction.
func (s *Store) InTx(ctx context.Context, fn func(tx *Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	var hooks []func()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		hooks = hooks[:0] // pgx does not retry, but keep a failed attempt's hooks out anyway
		return fn(&Store{pool: s.pool, db: tx, tx: tx, hooks: &hooks, sink: s.sink})
	})
	if err != nil {
		return err
	}
	for _, h := range hooks {
		h()
	}
	return nil
}

// isUnique reports whether err is a unique-constraint violation.
func isUnique(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}

// notFound maps pgx.ErrNoRows to ErrNotFound and wraps everything else with op.
func wrap(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, ErrNotFound)
	case isUnique(err):
		return fmt.Errorf("%s: %w", op, ErrConflict)
	}
	return fmt.Errorf("%s: %w", op, err)
}

// isCheck reports whether err is a check-constraint violation.
func isCheck(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23514"
}
