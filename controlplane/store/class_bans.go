package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClassBan is a student banned from one class by its teacher or an admin.
type ClassBan struct {
	ClassID   string
	UserID    string
	UserName  string
	BannedBy  string
	Reason    string
	CreatedAt time.Time
}

// BanFromClass bans userID from classID; a second ban keeps the first one's record and
// reports false.
func (s *Store) BanFromClass(ctx context.Context, b ClassBan) (bool, error) {
	tag, err := s.db.Exec(ctx, `INSERT INTO class_bans (class_id, user_id, banned_by, reason, created_at)
		VALUES ($1, $2, $3, $4, $5) ON CONFLICT (class_id, user_id) DO NOTHING`,
		b.ClassID, b.UserID, b.BannedBy, b.Reason, b.CreatedAt)
	if err != nil {
		return false, wrap("ban from class", err)
	}
	return tag.RowsAffected() == 1, nil
}

// IsBanned reports whether userID is banned from classID.
func (s *Store) IsBanned(ctx context.Context, classID, userID string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM class_bans WHERE class_id = $1 AND user_id = $2)`,
		classID, userID).Scan(&ok)
	return ok, wrap("is banned", err)
}

// ClassBans lists a class's bans, oldest first.
func (s *Store) ClassBans(ctx context.Context, classID string) ([]ClassBan, error) {
	rows, err := s.db.Query(ctx, `SELECT b.class_id, b.user_id, u.name, b.banned_by, b.reason, b.created_at
		FROM class_bans b JOIN users u ON u.id = b.user_id WHERE b.class_id = $1 ORDER BY b.created_at, b.user_id`, classID)
	if err != nil {
		return nil, wrap("class bans", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClassBan, error) {
		var b ClassBan
		err := r.Scan(&b.ClassID, &b.UserID, &b.UserName, &b.BannedBy, &b.Reason, &b.CreatedAt)
		return b, err
	})
	return out, wrap("class bans", err)
}
