package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LedgerTransaction is one business event's movement of credits. Rows are append-only.
type LedgerTransaction struct {
	ID             int64
	IdempotencyKey string
	Kind           string
	Memo           string
	Metadata       map[string]any
	CreatedAt      time.Time
}

// InsertLedgerTransaction inserts t unless its idempotency key exists. fresh reports whether
// this call inserted it; when false, id is the existing transaction's. A concurrent insert of
// the same key waits for the other transaction and then reports fresh = false.
func (s *Store) InsertLedgerTransaction(ctx context.Context, t LedgerTransaction) (id int64, fresh bool, err error) {
	meta := t.Metadata
	if meta == nil {
		meta = map[string]any{}
	}
	raw, err := json.Marshal(meta)
	if err != nil {
		return 0, false, fmt.Errorf("insert ledger transaction: metadata: %w", err)
	}
	err = s.db.QueryRow(ctx, `INSERT INTO ledger_transactions (idempotency_key, kind, memo, metadata, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (idempotency_key) DO NOTHING RETURNING id`,
		t.IdempotencyKey, t.Kind, t.Memo, raw, t.CreatedAt).Scan(&id)
	if err == nil {
		return id, true, nil
	}
	if err != pgx.ErrNoRows {
		return 0, false, wrap("insert ledger transaction", err)
	}
	err = s.db.QueryRow(ctx, `SELECT id FROM ledger_transactions WHERE idempotency_key = $1`, t.IdempotencyKey).Scan(&id)
	return id, false, wrap("existing ledger transaction", err)
}

// InsertLedgerEntry appends one entry; a trigger applies it to the account balance, and the
// balance CHECK refuses an overdraft (ErrInsufficient).
func (s *Store) InsertLedgerEntry(ctx context.Context, txID, accountID, amount int64, at time.Time) error {
	_, err := s.db.Exec(ctx, `INSERT INTO ledger_entries (transaction_id, account_id, amount, created_at)
		VALUES ($1, $2, $3, $4)`, txID, accountID, amount, at)
	if isCheck(err) {
		return fmt.Errorf("ledger entry on account %d: %w", accountID, ErrInsufficient)
	}
	return wrap("insert ledger entry", err)
}

// ErrInsufficient means a ledger entry would take a non-negative account below zero.
var ErrInsufficient = fmt.Errorf("store: insufficient balance")

// LedgerTransactionExists reports whether a transaction with key exists.
func (s *Store) LedgerTransactionExists(ctx context.Context, key string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM ledger_transactions WHERE idempotency_key = $1)`, key).Scan(&ok)
	return ok, wrap("ledger transaction exists", err)
}

// LedgerLine is one entry on an account with its transaction.
type LedgerLine struct {
	EntryID       int64
	TransactionID int64
	Kind          string
	Memo          string
	Metadata      map[string]any
	Amount        int64
	CreatedAt     time.Time
}

// AccountLines returns an account's entries newest first, before entry id beforeID (0: newest).
func (s *Store) AccountLines(ctx context.Context, accountID, beforeID int64, limit int) ([]LedgerLine, error) {
	rows, err := s.db.Query(ctx, `SELECT e.id, t.id, t.kind, t.memo, t.metadata, e.amount, e.created_at
		FROM ledger_entries e JOIN ledger_transactions t ON t.id = e.transaction_id
		WHERE e.account_id = $1 AND ($2 = 0 OR e.id < $2) ORDER BY e.id DESC LIMIT $3`, accountID, beforeID, limit)
	if err != nil {
		return nil, wrap("account lines", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerLine, error) {
		var l LedgerLine
		var raw []byte
		if err := r.Scan(&l.EntryID, &l.TransactionID, &l.Kind, &l.Memo, &raw, &l.Amount, &l.CreatedAt); err != nil {
			return l, err
		}
		return l, json.Unmarshal(raw, &l.Metadata)
	})
	return out, wrap("account lines", err)
}

// LedgerDiscrepancy is one broken ledger invariant found by LedgerAudit.
type LedgerDiscrepancy struct {
	Check   string
	Subject string
	Detail  string
}

// LedgerAudit scans the whole ledger: transactions whose entries do not sum to zero or have
// fewer than two entries, accounts whose cached balance differs from the sum of their
// entries, non-negative accounts below zero, and a non-zero grand total. It also returns
// counts for the report.
func (s *Store) LedgerAudit(ctx context.Context) (ds []LedgerDiscrepancy, txs, entries, accounts int64, err error) {
	add := func(check, sql string) error {
		rows, err := s.db.Query(ctx, sql)
		if err != nil {
			return wrap("ledger audit "+check, err)
		}
		defer rows.Close()
		for rows.Next() {
			var subj, detail string
			if err := rows.Scan(&subj, &detail); err != nil {
				return wrap("ledger audit "+check, err)
			}
			ds = append(ds, LedgerDiscrepancy{Check: check, Subject: subj, Detail: detail})
		}
		return wrap("ledger audit "+check, rows.Err())
	}
	checks := []struct{ name, sql string }{
		{"transaction_balanced", `SELECT t.idempotency_key, 'sum ' || coalesce(sum(e.amount), 0) || ' over ' || count(e.id) || ' entries'
			FROM ledger_transactions t LEFT JOIN ledger_entries e ON e.transaction_id = t.id
			GROUP BY t.id HAVING coalesce(sum(e.amount), 0) <> 0 OR count(e.id) < 2`},
		{"balance_matches_entries", `SELECT a.kind || ':' || coalesce(a.owner_id::text, 'system'),
			'cached ' || a.balance || ', entries ' || coalesce(x.total, 0)
			FROM ledger_accounts a LEFT JOIN (SELECT account_id, sum(amount) AS total FROM ledger_entries GROUP BY account_id) x
			ON x.account_id = a.id WHERE a.balance <> coalesce(x.total, 0)`},
		{"non_negative", `SELECT kind || ':' || coalesce(owner_id::text, 'system'), 'balance ' || balance
			FROM ledger_accounts WHERE NOT allow_negative AND balance < 0`},
		{"grand_total_zero", `SELECT 'all accounts', 'sum ' || sum(balance) FROM ledger_accounts HAVING sum(balance) <> 0`},
	}
	for _, c := range checks {
		if err := add(c.name, c.sql); err != nil {
			return nil, 0, 0, 0, err
		}
	}
	err = s.db.QueryRow(ctx, `SELECT (SELECT count(*) FROM ledger_transactions), (SELECT count(*) FROM ledger_entries),
		(SELECT count(*) FROM ledger_accounts)`).Scan(&txs, &entries, &accounts)
	return ds, txs, entries, accounts, wrap("ledger audit counts", err)
}

// InSnapshot runs fn in a read-only repeatable-read transaction: every query in fn sees the
// same committed state (used by the ledger check while postings continue).
func (s *Store) InSnapshot(ctx context.Context, fn func(tx *Store) error) error {
	return pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error { return fn(&Store{pool: s.pool, db: tx, tx: tx}) })
}
