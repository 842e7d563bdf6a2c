package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/atrium-live/atrium/controlplane/reqid"
)

// AuditEntry is one append-only audit record. Details must hold no secrets.
type AuditEntry struct {
	ID         int64
	At         time.Time
	ActorID    string // empty for the system or an anonymous caller
	Action     string // e.g. "auth.login", "user.role_changed", "class.price_changed"
	TargetType string
	TargetID   string
	Details    map[string]any
	RequestID  string
}

// AppendAudit writes e. Call it inside the transaction of the change it records.
func (s *Store) AppendAudit(ctx context.Context, e AuditEntry) error {
	if e.RequestID == "" {
		e.RequestID = reqid.From(ctx)
	}
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	raw, err := json.Marshal(details)
	if err != nil {
		return fmt.Errorf("append audit: details: %w", err)
	}
	_, err = s.db.Exec(ctx, `INSERT INTO audit_log (actor_id, action, target_type, target_id, details, request_id)
		VALUES ($1, $2, $3, $4, $5, $6)`, nullUUID(e.ActorID), e.Action, e.TargetType, e.TargetID, raw, e.RequestID)
	return wrap("append audit", err)
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	Action   string
	ActorID  string
	TargetID string
	BeforeID int64 // keyset cursor; 0 for the newest
	Limit    int
}

// ListAudit returns entries matching f, newest first.
func (s *Store) ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	rows, err := s.db.Query(ctx, `SELECT id, at, coalesce(actor_id::text, ''), action, target_type, target_id,
		details, request_id FROM audit_log
		WHERE ($1 = '' OR action = $1) AND ($2::uuid IS NULL OR actor_id = $2)
		  AND ($3 = '' OR target_id = $3) AND ($4 = 0 OR id < $4)
		ORDER BY id DESC LIMIT $5`, f.Action, nullUUID(f.ActorID), f.TargetID, f.BeforeID, f.Limit)
	if err != nil {
		return nil, wrap("list audit", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AuditEntry, error) {
		var e AuditEntry
		var raw []byte
		if err := r.Scan(&e.ID, &e.At, &e.ActorID, &e.Action, &e.TargetType, &e.TargetID, &raw, &e.RequestID); err != nil {
			return e, err
		}
		return e, json.Unmarshal(raw, &e.Details)
	})
	return out, wrap("list audit", err)
}
