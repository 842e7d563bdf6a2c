package billing

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Wallet returns the user's spendable balance.
func (s *Service) Wallet(ctx context.Context, userID string) (int64, error) {
	return ledger.Balance(ctx, s.Store, ledger.WalletOf(userID))
}

// WalletLines returns the user's wallet movements, newest first, before entry beforeID (0: newest).
func (s *Service) WalletLines(ctx context.Context, userID string, beforeID int64, limit int) ([]store.LedgerLine, error) {
	acc, err := s.Store.LedgerAccountByOwner(ctx, ledger.Wallet, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return s.Store.AccountLines(ctx, acc.ID, beforeID, limit)
}

// GrantInput is an admin granting promotional or goodwill credits.
type GrantInput struct {
	AdminID        string
	UserID         string
	Credits        int
	Reason         string
	IdempotencyKey string // optional; the same key grants once
}

// Grant gives a user credits from the promotions account, audited. It reports whether this
// call granted (false: the Idempotency-Key was used before).
func (s *Service) Grant(ctx context.Context, in GrantInput) (bool, error) {
	f := problem.Field{}
	if in.Credits < 1 || in.Credits > 100_000 {
		f.Add("credits", "must be from 1 to 100000")
	}
	reason := strings.TrimSpace(in.Reason)
	if n := utf8.RuneCountInString(reason); n < 3 || n > 500 {
		f.Add("reason", "must be 3 to 500 characters")
	}
	if err := f.Err(); err != nil {
		return false, err
	}
	u, err := s.Store.UserByID(ctx, in.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return false, problem.Validation(map[string]string{"user_id": "no such user"})
	}
	if err != nil {
		return false, err
	}
	key := "grant:" + in.AdminID + ":" + in.IdempotencyKey
	if in.IdempotencyKey == "" {
		key = "grant:" + newID()
	}
	var posted bool
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		posted, err = ledger.Post(ctx, tx, ledger.Transfer(key, "grant", reason, s.Now(), ledger.PromotionsAccount,
			ledger.WalletOf(u.ID), int64(in.Credits), map[string]any{"admin_id": in.AdminID, "reason": reason}))
		if err != nil || !posted {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: in.AdminID, Action: "credits.granted", TargetType: "user",
			TargetID: u.ID, Details: map[string]any{"credits": in.Credits, "reason": reason}})
	})
	return posted, err
}
