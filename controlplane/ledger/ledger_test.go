package ledger_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/store"
)

func TestMain(m *testing.M) { os.Exit(cptest.Main(m)) }

func newStore(t *testing.T) *store.Store {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), cptest.DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return store.New(pool)
}

func uuid() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func post(ctx context.Context, st *store.Store, p ledger.Posting) (bool, error) {
	var posted bool
	err := st.InTx(ctx, func(tx *store.Store) error {
		var err error
		posted, err = ledger.Post(ctx, tx, p)
		return err
	})
	return posted, err
}

func mustCheck(t *testing.T, st *store.Store) {
	t.Helper()
	rep, err := ledger.Check(context.Background(), st, time.Now())
	if err != nil || !rep.OK {
		t.Fatalf("Check = %+v, %v", rep, err)
	}
}

func TestPostIsIdempotentAndBalanced(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	wallet := ledger.WalletOf(uuid())
	fund := ledger.Transfer("grant:"+uuid(), "grant", "test", time.Now(), ledger.PromotionsAccount, wallet, 50, nil)
	var mu sync.Mutex
	posted := 0
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := post(ctx, st, fund)
			if err != nil {
				t.Errorf("Post: %v", err)
			}
			if ok {
				mu.Lock()
				posted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if b, _ := ledger.Balance(ctx, st, wallet); posted != 1 || b != 50 {
		t.Fatalf("20 concurrent posts of one key: posted %d, balance %d; want 1 and 50", posted, b)
	}
	_, err := post(ctx, st, ledger.Posting{Key: "bad:" + uuid(), Kind: "bad", Entries: []ledger.Entry{
		{Account: wallet, Amount: -10}, {Account: ledger.RevenueAccount, Amount: 9}}})
	if !errors.Is(err, ledger.ErrUnbalanced) {
		t.Fatalf("unbalanced posting: %v, want ErrUnbalanced", err)
	}
	_, err = post(ctx, st, ledger.Transfer("spend:"+uuid(), "booking", "", time.Now(), wallet, ledger.EscrowOf(uuid()), 51, nil))
	if !errors.Is(err, ledger.ErrInsufficient) {
		t.Fatalf("overdraft: %v, want ErrInsufficient", err)
	}
	if b, _ := ledger.Balance(ctx, st, wallet); b != 50 {
		t.Fatalf("balance after refused postings = %d", b)
	}
	mustCheck(t, st)
}

// The database itself refuses what the code must never do.
func TestDatabaseGuards(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	key := "grant:" + uuid()
	if _, err := post(ctx, st, ledger.Transfer(key, "grant", "", time.Now(), ledger.PromotionsAccount, ledger.WalletOf(uuid()), 5, nil)); err != nil {
		t.Fatal(err)
	}
	db := st.Pool()
	for _, sql := range []string{
		`UPDATE ledger_entries SET amount = amount * 2`,
		`DELETE FROM ledger_entries`,
		`UPDATE ledger_transactions SET memo = 'rewritten'`,
		`DELETE FROM ledger_transactions`,
		`TRUNCATE ledger_entries`,
	} {
		if _, err := db.Exec(ctx, sql); err == nil {
			t.Fatalf("%s succeeded; ledger rows must be append-only", sql)
		}
	}
	// An unbalanced transaction written behind the code's back fails at commit.
	err := st.InTx(ctx, func(tx *store.Store) error {
		id, _, err := tx.InsertLedgerTransaction(ctx, store.LedgerTransaction{IdempotencyKey: "raw:" + uuid(), Kind: "raw", CreatedAt: time.Now()})
		if err != nil {
			return err
		}
		acc, err := tx.EnsureLedgerAccount(ctx, ledger.Cash, "", true)
		if err != nil {
			return err
		}
		return tx.InsertLedgerEntry(ctx, id, acc, 7, time.Now())
	})
	if err == nil {
		t.Fatal("a one-sided transaction committed")
	}
	// An overdraft written behind the code's back is refused by the CHECK.
	wallet := uuid()
	err = st.InTx(ctx, func(tx *store.Store) error {
		id, _, err := tx.InsertLedgerTransaction(ctx, store.LedgerTransaction{IdempotencyKey: "raw:" + uuid(), Kind: "raw", CreatedAt: time.Now()})
		if err != nil {
			return err
		}
		w, err := tx.EnsureLedgerAccount(ctx, ledger.Wallet, wallet, false)
		if err != nil {
			return err
		}
		r, err := tx.EnsureLedgerAccount(ctx, ledger.Revenue, "", false)
		if err != nil {
			return err
		}
		if err := tx.InsertLedgerEntry(ctx, id, r, 3, time.Now()); err != nil {
			return err
		}
		return tx.InsertLedgerEntry(ctx, id, w, -3, time.Now())
	})
	if !errors.Is(err, store.ErrInsufficient) {
		t.Fatalf("overdraft via raw entries: %v, want ErrInsufficient", err)
	}
	mustCheck(t, st)
}

// Check finds a cached balance that drifted from the entries.
func TestCheckReportsDiscrepancies(t *testing.T) {
	ctx := context.Background()
	st := newStore(t)
	owner := uuid()
	if _, err := post(ctx, st, ledger.Transfer("grant:"+uuid(), "grant", "", time.Now(), ledger.PromotionsAccount, ledger.WalletOf(owner), 5, nil)); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Pool().Exec(ctx, `UPDATE ledger_accounts SET balance = balance + 1 WHERE kind = 'wallet' AND owner_id = $1`, owner); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = st.Pool().Exec(ctx, `UPDATE ledger_accounts SET balance = balance - 1 WHERE kind = 'wallet' AND owner_id = $1`, owner)
	})
	rep, err := ledger.Check(ctx, st, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, d := range rep.Discrepancies {
		found[d.Check] = true
	}
	if rep.OK || !found["balance_matches_entries"] || !found["grand_total_zero"] {
		t.Fatalf("Check after corrupting a balance = %+v", rep)
	}
}
