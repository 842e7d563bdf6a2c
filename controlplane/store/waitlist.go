package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Waitlist statuses.
const (
	WaitWaiting = "waiting"
	WaitOffered = "offered"
	WaitBooked  = "booked"
	WaitExpired = "expired"
	WaitLeft    = "left"
	WaitClosed  = "closed" // the class was cancelled or started
)

// WaitlistEntry is a student queued for a full class.
type WaitlistEntry struct {
	ID             string
	ClassID        string
	StudentID      string
	StudentEmail   string
	StudentName    string
	Status         string
	OfferedAt      *time.Time
	OfferExpiresAt *time.Time
	CreatedAt      time.Time
	Position       int // 1-based among waiting entries (0 when not waiting)
	// StudentTimeZone (IANA) is for times in the student's emails.
	StudentTimeZone string
}

const waitCols = `w.id, w.class_id, w.student_id, u.email, u.name, w.status, w.offered_at, w.offer_expires_at, w.created_at,
	CASE WHEN w.status = 'waiting' THEN (SELECT count(*) FROM waitlist_entries x WHERE x.class_id = w.class_id
		AND x.status = 'waiting' AND (x.created_at, x.id) <= (w.created_at, w.id)) ELSE 0 END, u.time_zone`

const waitFrom = ` FROM waitlist_entries w JOIN users u ON u.id = w.student_id`

func scanWait(row pgx.Row) (WaitlistEntry, error) {
	var w WaitlistEntry
	err := row.Scan(&w.ID, &w.ClassID, &w.StudentID, &w.StudentEmail, &w.StudentName, &w.Status, &w.OfferedAt,
		&w.OfferExpiresAt, &w.CreatedAt, &w.Position, &w.StudentTimeZone)
	return w, err
}

// JoinWaitlist queues the student (again, if they had left or their offer expired);
// ErrConflict if they are already waiting, offered or booked through it.
func (s *Store) JoinWaitlist(ctx context.Context, classID, studentID string, now time.Time) (WaitlistEntry, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO waitlist_entries (class_id, student_id, created_at, updated_at)
		VALUES ($1, $2, $3, $3)
		ON CONFLICT (class_id, student_id) DO UPDATE SET status = 'waiting', created_at = $3, updated_at = $3,
			offered_at = NULL, offer_expires_at = NULL
		WHERE waitlist_entries.status IN ('expired', 'left')
		RETURNING id`, classID, studentID, now).Scan(&id)
	if err == pgx.ErrNoRows {
		return WaitlistEntry{}, wrap("join waitlist", ErrConflict)
	}
	if err != nil {
		return WaitlistEntry{}, wrap("join waitlist", err)
	}
	return s.WaitlistEntryByID(ctx, id)
}

// WaitlistEntryByID returns an entry with its position.
func (s *Store) WaitlistEntryByID(ctx context.Context, id string) (WaitlistEntry, error) {
	w, err := scanWait(s.db.QueryRow(ctx, `SELECT `+waitCols+waitFrom+` WHERE w.id = $1`, id))
	return w, wrap("waitlist entry", err)
}

// WaitlistEntryFor returns the student's entry for a class.
func (s *Store) WaitlistEntryFor(ctx context.Context, classID, studentID string) (WaitlistEntry, error) {
	w, err := scanWait(s.db.QueryRow(ctx, `SELECT `+waitCols+waitFrom+` WHERE w.class_id = $1 AND w.student_id = $2`,
		classID, studentID))
	return w, wrap("waitlist entry for", err)
}

// SetWaitlistStatus moves an entry from one of from to status; ErrNotFound if it was in none.
func (s *Store) SetWaitlistStatus(ctx context.Context, id, status string, now time.Time, from ...string) error {
	return s.exec1(ctx, "set waitlist status", `UPDATE waitlist_entries SET status = $2, updated_at = $3
		WHERE id = $1 AND status = ANY($4)`, id, status, now, from)
}

// ActiveOffers counts unexpired offers for a class, excluding studentID's own.
func (s *Store) ActiveOffers(ctx context.Context, classID, exceptStudent string, now time.Time) (int, error) {
	var n int
	err := s.db.QueryRow(ctx, `SELECT count(*) FROM waitlist_entries WHERE class_id = $1 AND status = 'offered'
		AND offer_expires_at > $2 AND student_id IS DISTINCT FROM $3`, classID, now, nullUUID(exceptStudent)).Scan(&n)
	return n, wrap("active offers", err)
}

// OfferNextSeats offers up to n seats to the first waiting students, each until expires,
// and returns the entries offered.
func (s *Store) OfferNextSeats(ctx context.Context, classID string, n int, now, expires time.Time) ([]WaitlistEntry, error) {
	rows, err := s.db.Query(ctx, `UPDATE waitlist_entries SET status = 'offered', offered_at = $3, offer_expires_at = $4,
		updated_at = $3 WHERE id IN (SELECT id FROM waitlist_entries WHERE class_id = $1 AND status = 'waiting'
			ORDER BY created_at, id LIMIT $2 FOR UPDATE) RETURNING id`, classID, n, now, expires)
	if err != nil {
		return nil, wrap("offer next seats", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap("offer next seats", err)
	}
	out := make([]WaitlistEntry, 0, len(ids))
	for _, id := range ids {
		w, err := s.WaitlistEntryByID(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// ExpireOffers marks offers past their expiry as expired and returns the classes affected.
func (s *Store) ExpireOffers(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.db.Query(ctx, `UPDATE waitlist_entries SET status = 'expired', updated_at = $1
		WHERE status = 'offered' AND offer_expires_at <= $1 RETURNING class_id::text`, now)
	if err != nil {
		return nil, wrap("expire offers", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("expire offers", err)
}

// CloseWaitlist closes every open entry of a class (cancelled or started).
func (s *Store) CloseWaitlist(ctx context.Context, classID string, now time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE waitlist_entries SET status = 'closed', updated_at = $2
		WHERE class_id = $1 AND status IN ('waiting', 'offered')`, classID, now)
	return wrap("close waitlist", err)
}

// ClassesWithOpenWaitlist returns scheduled classes starting after now that have waiting
// students and free seats not covered by offers.
func (s *Store) ClassesWithOpenWaitlist(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := s.db.Query(ctx, `SELECT c.id::text FROM classes c WHERE c.status = 'scheduled' AND c.starts_at > $1
		AND EXISTS (SELECT 1 FROM waitlist_entries w WHERE w.class_id = c.id AND w.status = 'waiting')
		AND c.capacity - c.seats_taken > (SELECT count(*) FROM waitlist_entries w WHERE w.class_id = c.id
			AND w.status = 'offered' AND w.offer_expires_at > $1)`, now)
	if err != nil {
		return nil, wrap("classes with open waitlist", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return ids, wrap("classes with open waitlist", err)
}

// MarkWaitlistBooked records that the student booked the class through (or despite) their
// waiting or offered entry; no entry is fine.
func (s *Store) MarkWaitlistBooked(ctx context.Context, classID, studentID string, now time.Time) error {
	_, err := s.db.Exec(ctx, `UPDATE waitlist_entries SET status = 'booked', updated_at = $3
		WHERE class_id = $1 AND student_id = $2 AND status IN ('waiting', 'offered')`, classID, studentID, now)
	return wrap("mark waitlist booked", err)
}
