package store

import (
	"context"
	"errors"
	"time"
)

// LedgerAccount is one account of the credits ledger. OwnerID is the user (wallet, earnings,
// payout_reserved) or class (escrow) it belongs to; empty for system accounts.
type LedgerAccount struct {
	ID            int64
	Kind          string
	OwnerID       string
	AllowNegative bool
	Balance       int64
	CreatedAt     time.Time
}

const ledgerAccountCols = `id, kind, coalesce(owner_id::text, ''), allow_negative, balance, created_at`

// EnsureLedgerAccount returns the id of the (kind, owner) account, creating it if needed.
// Safe under concurrency: a racing creator waits on the unique constraint and both get the
// same id.
func (s *Store) EnsureLedgerAccount(ctx context.Context, kind, ownerID string, allowNegative bool) (int64, error) {
	var id int64
	err := s.db.QueryRow(ctx, `SELECT id FROM ledger_accounts WHERE kind = $1 AND owner_id IS NOT DISTINCT FROM $2`,
		kind, nullUUID(ownerID)).Scan(&id)
	if err == nil {
		return id, nil
	}
	if err = wrap("ledger account", err); !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	err = s.db.QueryRow(ctx, `INSERT INTO ledger_accounts (kind, owner_id, allow_negative) VALUES ($1, $2, $3)
		ON CONFLICT ON CONSTRAINT ledger_accounts_owner DO NOTHING RETURNING id`,
		kind, nullUUID(ownerID), allowNegative).Scan(&id)
	if err == nil {
		return id, nil
	}
	if err = wrap("create ledger account", err); !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	err = s.db.QueryRow(ctx, `SELECT id FROM ledger_accounts WHERE kind = $1 AND owner_id IS NOT DISTINCT FROM $2`,
		kind, nullUUID(ownerID)).Scan(&id)
	return id, wrap("ledger account after create", err)
}

// LedgerAccountByOwner returns the (kind, owner) account; ErrNotFound if it was never used.
func (s *Store) LedgerAccountByOwner(ctx context.Context, kind, ownerID string) (LedgerAccount, error) {
	var a LedgerAccount
	err := s.db.QueryRow(ctx, `SELECT `+ledgerAccountCols+` FROM ledger_accounts
		WHERE kind = $1 AND owner_id IS NOT DISTINCT FROM $2`, kind, nullUUID(ownerID)).
		Scan(&a.ID, &a.Kind, &a.OwnerID, &a.AllowNegative, &a.Balance, &a.CreatedAt)
	return a, wrap("ledger account by owner", err)
}

// LedgerAccountForUpdate returns account id and locks its row until the transaction ends, so
// a balance read here stays true while the caller decides.
func (s *Store) LedgerAccountForUpdate(ctx context.Context, id int64) (LedgerAccount, error) {
	var a LedgerAccount
	err := s.db.QueryRow(ctx, `SELECT `+ledgerAccountCols+` FROM ledger_accounts WHERE id = $1 FOR UPDATE`, id).
		Scan(&a.ID, &a.Kind, &a.OwnerID, &a.AllowNegative, &a.Balance, &a.CreatedAt)
	return a, wrap("ledger account for update", err)
}

// LedgerBalances returns the balances of the given kind for the given owners (missing
// accounts are absent from the map).
func (s *Store) LedgerBalances(ctx context.Context, kind string, ownerIDs []string) (map[string]int64, error) {
	rows, err := s.db.Query(ctx, `SELECT owner_id::text, balance FROM ledger_accounts
		WHERE kind = $1 AND owner_id = ANY($2::uuid[])`, kind, ownerIDs)
	if err != nil {
		return nil, wrap("ledger balances", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var id string
		var b int64
		if err := rows.Scan(&id, &b); err != nil {
			return nil, wrap("ledger balances", err)
		}
		out[id] = b
	}
	return out, wrap("ledger balances", rows.Err())
}
