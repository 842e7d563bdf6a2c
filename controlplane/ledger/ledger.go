// Package ledger is Atrium's double-entry credits ledger: accounts (student wallets, class
// escrows, teacher earnings and reserved payouts, platform revenue, external cash,
// promotions), transactions whose entries sum to zero, one transaction per business event
// keyed by an idempotency key, and a check of every invariant.
//
// The database enforces the invariants too (see migration 00009): entries are append-only,
// a deferred trigger refuses an unbalanced transaction at commit, a CHECK refuses an
// overdraft. Post must run inside the caller's transaction (store.InTx) so the credits move
// together with the business change that causes them. Functions here hold no state and are
// safe for concurrent use.
package ledger

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"time"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Account kinds.
const (
	Wallet         = "wallet"          // a student's spendable credits (owner: user)
	Escrow         = "escrow"          // credits paid for a class, held until it settles (owner: class)
	Earnings       = "earnings"        // a teacher's settled, withdrawable credits (owner: user)
	PayoutReserved = "payout_reserved" // a teacher's credits in a pending payout (owner: user)
	Revenue        = "revenue"         // platform commission and fees (system)
	Cash           = "cash"            // money outside the platform: Stripe (system, may go negative)
	Promotions     = "promotions"      // grants and goodwill (system, may go negative)
)

// Account names one ledger account. Owner is empty for system accounts.
type Account struct {
	Kind  string
	Owner string
}

// WalletOf is a student's wallet.
func WalletOf(userID string) Account { return Account{Kind: Wallet, Owner: userID} }

// EscrowOf is a class's escrow.
func EscrowOf(classID string) Account { return Account{Kind: Escrow, Owner: classID} }

// EarningsOf is a teacher's earnings.
func EarningsOf(userID string) Account { return Account{Kind: Earnings, Owner: userID} }

// ReservedOf is a teacher's reserved (pending payout) credits.
func ReservedOf(userID string) Account { return Account{Kind: PayoutReserved, Owner: userID} }

// System accounts.
var (
	RevenueAccount    = Account{Kind: Revenue}
	CashAccount       = Account{Kind: Cash}
	PromotionsAccount = Account{Kind: Promotions}
)

// allowsNegative: only the accounts standing for the outside world may go below zero.
func (a Account) allowsNegative() bool { return a.Kind == Cash || a.Kind == Promotions }

func (a Account) String() string {
	if a.Owner == "" {
		return a.Kind
	}
	return a.Kind + ":" + a.Owner
}

// Entry moves Amount credits into Account (negative: out of it).
type Entry struct {
	Account Account
	Amount  int64
}

// Posting is one business event. Key must be unique per event, e.g. "booking:<id>",
// "refund:<rule>:booking:<id>", "purchase:<id>".
type Posting struct {
	Key      string
	Kind     string
	Memo     string
	Metadata map[string]any
	At       time.Time
	Entries  []Entry
}

// Errors Post returns.
var (
	// ErrUnbalanced means the entries do not sum to zero (a programming error).
	ErrUnbalanced = errors.New("ledger: entries do not sum to zero")
	// ErrInsufficient means an account that may not go negative would.
	ErrInsufficient = errors.New("ledger: insufficient balance")
)

// Transfer is the common two-entry posting: amount credits from one account to another.
func Transfer(key, kind, memo string, at time.Time, from, to Account, amount int64, meta map[string]any) Posting {
	return Posting{Key: key, Kind: kind, Memo: memo, Metadata: meta, At: at,
		Entries: []Entry{{Account: from, Amount: -amount}, {Account: to, Amount: amount}}}
}

// Post records p in tx's transaction unless a transaction with p.Key exists. It reports
// whether this call posted it (false: the event was already recorded, nothing changed).
// Entries with a zero amount are dropped; a posting left with none is a no-op. Accounts are
// touched in id order, so concurrent postings never deadlock on each other.
func Post(ctx context.Context, tx *store.Store, p Posting) (bool, error) {
	if p.Key == "" || p.Kind == "" {
		return false, errors.New("ledger: posting needs a key and a kind")
	}
	var sum int64
	entries := make([]Entry, 0, len(p.Entries))
	for _, e := range p.Entries {
		if e.Amount < -1e12 || e.Amount > 1e12 {
			return false, fmt.Errorf("ledger: %s: amount %d out of range", p.Key, e.Amount)
		}
		sum += e.Amount
		if e.Amount != 0 {
			entries = append(entries, e)
		}
	}
	if sum != 0 {
		return false, fmt.Errorf("%w: %s sums to %d", ErrUnbalanced, p.Key, sum)
	}
	if len(entries) == 0 {
		return false, nil
	}
	if tx.Tx() == nil {
		return false, errors.New("ledger: Post must run inside a transaction")
	}
	type resolved struct {
		id     int64
		amount int64
	}
	rs := make([]resolved, 0, len(entries))
	for _, e := range entries {
		id, err := tx.EnsureLedgerAccount(ctx, e.Account.Kind, e.Account.Owner, e.Account.allowsNegative())
		if err != nil {
			return false, fmt.Errorf("ledger: %s: account %s: %w", p.Key, e.Account, err)
		}
		rs = append(rs, resolved{id, e.Amount})
	}
	at := p.At
	if at.IsZero() {
		at = time.Now()
	}
	txID, fresh, err := tx.InsertLedgerTransaction(ctx, store.LedgerTransaction{IdempotencyKey: p.Key, Kind: p.Kind,
		Memo: p.Memo, Metadata: p.Metadata, CreatedAt: at})
	if err != nil || !fresh {
		return false, err
	}
	sort.SliceStable(rs, func(i, j int) bool { return rs[i].id < rs[j].id })
	for _, r := range rs {
		if err := tx.InsertLedgerEntry(ctx, txID, r.id, r.amount, at); err != nil {
			if errors.Is(err, store.ErrInsufficient) {
				return false, fmt.Errorf("%w: %s", ErrInsufficient, p.Key)
			}
			return false, fmt.Errorf("ledger: %s: %w", p.Key, err)
		}
	}
	return true, nil
}

// Lock locks account a (creating it if needed) until tx ends and returns its balance. Use it
// before deciding on an amount that must not exceed the balance.
func Lock(ctx context.Context, tx *store.Store, a Account) (int64, error) {
	id, err := tx.EnsureLedgerAccount(ctx, a.Kind, a.Owner, a.allowsNegative())
	if err != nil {
		return 0, fmt.Errorf("ledger: lock %s: %w", a, err)
	}
	acc, err := tx.LedgerAccountForUpdate(ctx, id)
	if err != nil {
		return 0, fmt.Errorf("ledger: lock %s: %w", a, err)
	}
	return acc.Balance, nil
}

// Balance returns a's balance (0 for an account never used).
func Balance(ctx context.Context, st *store.Store, a Account) (int64, error) {
	acc, err := st.LedgerAccountByOwner(ctx, a.Kind, a.Owner)
	if errors.Is(err, store.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("ledger: balance %s: %w", a, err)
	}
	return acc.Balance, nil
}

// Discrepancy is one broken invariant.
type Discrepancy struct {
	Check   string `json:"check"`
	Subject string `json:"subject"`
	Detail  string `json:"detail"`
}

// Report is the result of Check.
type Report struct {
	OK            bool          `json:"ok"`
	CheckedAt     time.Time     `json:"checked_at"`
	Transactions  int64         `json:"transactions"`
	Entries       int64         `json:"entries"`
	Accounts      int64         `json:"accounts"`
	Checks        []string      `json:"checks"`
	Discrepancies []Discrepancy `json:"discrepancies"`
}

// Checker contributes invariants that relate the ledger to business tables (escrow against
// bookings, reserved credits against payouts...). It must only read.
type Checker interface {
	// LedgerChecks returns the names of the checks it ran and what they found.
	LedgerChecks(ctx context.Context, st *store.Store) ([]string, []Discrepancy, error)
}

// Check verifies every ledger invariant, plus those of extra, in one repeatable-read
// snapshot so concurrent postings cannot produce false alarms.
func Check(ctx context.Context, st *store.Store, now time.Time, extra ...Checker) (Report, error) {
	r := Report{CheckedAt: now, Checks: []string{"transaction_balanced", "balance_matches_entries", "non_negative", "grand_total_zero"},
		Discrepancies: []Discrepancy{}}
	err := st.InSnapshot(ctx, func(tx *store.Store) error {
		ds, txs, entries, accounts, err := tx.LedgerAudit(ctx)
		if err != nil {
			return err
		}
		r.Transactions, r.Entries, r.Accounts = txs, entries, accounts
		for _, d := range ds {
			r.Discrepancies = append(r.Discrepancies, Discrepancy(d))
		}
		for _, c := range extra {
			names, ds, err := c.LedgerChecks(ctx, tx)
			if err != nil {
				return err
			}
			r.Checks = append(r.Checks, names...)
			r.Discrepancies = append(r.Discrepancies, ds...)
		}
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("ledger: check: %w", err)
	}
	r.OK = len(r.Discrepancies) == 0
	return r, nil
}

// InsufficientProblem is the 402 a client sees when its wallet is short.
func InsufficientProblem(price, balance int64) *problem.Error {
	e := problem.New(http.StatusPaymentRequired, CodeInsufficientCredits,
		fmt.Sprintf("you need %d more credits", price-balance))
	e.Details = map[string]any{"price": price, "balance": balance, "shortfall": price - balance}
	return e
}

// CodeInsufficientCredits is the error code of a 402 for missing credits.
const CodeInsufficientCredits = "insufficient_credits"
