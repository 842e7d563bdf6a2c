package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Booking statuses.
const (
	BookingConfirmed = "confirmed"
	BookingCancelled = "cancelled"
	BookingRefunded  = "refunded"
)

// Booking is a student's seat in a class, with the class fields the money code needs.
type Booking struct {
	ID              string
	ClassID         string
	StudentID       string
	StudentEmail    string
	StudentName     string
	Status          string
	PriceCredits    int
	PaidCredits     int
	RefundedCredits int
	FeeCredits      int
	DiscountCodeID  string
	IdempotencyKey  string
	CreatedAt       time.Time
	CancelledAt     *time.Time
	// Class summary.
	ClassTitle    string
	ClassStartsAt time.Time
	ClassMinutes  int
	ClassStatus   string
	TeacherID     string
	// Time zones (IANA) of the class and of the student, for emails and invites.
	ClassTimeZone   string
	StudentTimeZone string
}

// Held is what the class escrow holds for the booking.
func (b *Booking) Held() int { return b.PaidCredits - b.RefundedCredits - b.FeeCredits }

const bookingCols = `b.id, b.class_id, b.student_id, u.email, u.name, b.status, b.price_credits, b.paid_credits,
	b.refunded_credits, b.fee_credits, coalesce(b.discount_code_id::text, ''), b.idempotency_key, b.created_at,
	b.cancelled_at, c.title, c.starts_at, c.duration_minutes, c.status, c.teacher_id, c.time_zone, u.time_zone`

const bookingFrom = ` FROM bookings b JOIN users u ON u.id = b.student_id JOIN classes c ON c.id = b.class_id`

func scanBooking(row pgx.Row) (Booking, error) {
	var b Booking
	err := row.Scan(&b.ID, &b.ClassID, &b.StudentID, &b.StudentEmail, &b.StudentName, &b.Status, &b.PriceCredits,
		&b.PaidCredits, &b.RefundedCredits, &b.FeeCredits, &b.DiscountCodeID, &b.IdempotencyKey, &b.CreatedAt,
		&b.CancelledAt, &b.ClassTitle, &b.ClassStartsAt, &b.ClassMinutes, &b.ClassStatus, &b.TeacherID, &b.ClassTimeZone,
		&b.StudentTimeZone)
	return b, err
}

func collectBookings(rows pgx.Rows, err error, op string) ([]Booking, error) {
	if err != nil {
		return nil, wrap(op, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Booking, error) { return scanBooking(r) })
	return out, wrap(op, err)
}

// TakeSeat counts one more seat in class id if one is left (the oversell guard, together
// with the CHECK on classes.seats_taken) and reports whether it did.
func (s *Store) TakeSeat(ctx context.Context, classID string) (bool, error) {
	tag, err := s.db.Exec(ctx, `UPDATE classes SET seats_taken = seats_taken + 1
		WHERE id = $1 AND seats_taken < capacity`, classID)
	if err != nil {
		return false, wrap("take seat", err)
	}
	return tag.RowsAffected() == 1, nil
}

// FreeSeat gives a seat back.
func (s *Store) FreeSeat(ctx context.Context, classID string) error {
	return s.exec1(ctx, "free seat", `UPDATE classes SET seats_taken = seats_taken - 1 WHERE id = $1 AND seats_taken > 0`, classID)
}

// NewBooking is what InsertBooking stores.
type NewBooking struct {
	ClassID        string
	StudentID      string
	PriceCredits   int
	PaidCredits    int
	DiscountCodeID string
	IdempotencyKey string
	At             time.Time
}

// InsertBooking stores a confirmed booking; ErrConflict if the student already holds one for
// the class or used the idempotency key.
func (s *Store) InsertBooking(ctx context.Context, n NewBooking) (string, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO bookings (class_id, student_id, price_credits, paid_credits,
		discount_code_id, idempotency_key, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id`,
		n.ClassID, n.StudentID, n.PriceCredits, n.PaidCredits, nullUUID(n.DiscountCodeID), n.IdempotencyKey, n.At).Scan(&id)
	return id, wrap("insert booking", err)
}

// BookingByID returns a booking.
func (s *Store) BookingByID(ctx context.Context, id string) (Booking, error) {
	b, err := scanBooking(s.db.QueryRow(ctx, `SELECT `+bookingCols+bookingFrom+` WHERE b.id = $1`, id))
	return b, wrap("booking by id", err)
}

// BookingByIDForUpdate returns a booking and locks its row.
func (s *Store) BookingByIDForUpdate(ctx context.Context, id string) (Booking, error) {
	b, err := scanBooking(s.db.QueryRow(ctx, `SELECT `+bookingCols+bookingFrom+` WHERE b.id = $1 FOR UPDATE OF b`, id))
	return b, wrap("booking by id for update", err)
}

// BookingByKey returns the student's booking made with idempotency key.
func (s *Store) BookingByKey(ctx context.Context, studentID, key string) (Booking, error) {
	b, err := scanBooking(s.db.QueryRow(ctx, `SELECT `+bookingCols+bookingFrom+`
		WHERE b.student_id = $1 AND b.idempotency_key = $2`, studentID, key))
	return b, wrap("booking by key", err)
}

// HasConfirmedBooking reports whether the student holds a confirmed booking for the class.
func (s *Store) HasConfirmedBooking(ctx context.Context, classID, studentID string) (bool, error) {
	var ok bool
	err := s.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM bookings WHERE class_id = $1 AND student_id = $2
		AND status = 'confirmed')`, classID, studentID).Scan(&ok)
	return ok, wrap("has confirmed booking", err)
}

// ClassBookingsForUpdate returns a class's bookings in the given statuses, locked, oldest first.
func (s *Store) ClassBookingsForUpdate(ctx context.Context, classID string, statuses ...string) ([]Booking, error) {
	rows, err := s.db.Query(ctx, `SELECT `+bookingCols+bookingFrom+` WHERE b.class_id = $1 AND b.status = ANY($2)
		ORDER BY b.created_at, b.id FOR UPDATE OF b`, classID, statuses)
	return collectBookings(rows, err, "class bookings")
}

// StudentBookings returns a student's bookings; upcoming (class not ended at now) soonest
// first, or past most recent first.
func (s *Store) StudentBookings(ctx context.Context, studentID string, upcoming bool, now time.Time, limit int) ([]Booking, error) {
	q := `SELECT ` + bookingCols + bookingFrom + ` WHERE b.student_id = $1 AND `
	if upcoming {
		q += `c.starts_at + make_interval(mins => c.duration_minutes) > $2 ORDER BY c.starts_at, b.id`
	} else {
		q += `c.starts_at + make_interval(mins => c.duration_minutes) <= $2 ORDER BY c.starts_at DESC, b.id`
	}
	rows, err := s.db.Query(ctx, q+` LIMIT $3`, studentID, now, limit)
	return collectBookings(rows, err, "student bookings")
}

// BookingRefundUpdate records money returned from a booking (and the fee kept), and its new status.
type BookingRefundUpdate struct {
	ID       string
	Refunded int
	Fee      int
	Status   string
	At       time.Time
}

// ApplyBookingRefund adds a refund and fee to a booking and sets its status.
func (s *Store) ApplyBookingRefund(ctx context.Context, u BookingRefundUpdate) error {
	return s.exec1(ctx, "apply booking refund", `UPDATE bookings SET refunded_credits = refunded_credits + $2,
		fee_credits = fee_credits + $3, status = $4,
		cancelled_at = CASE WHEN $4 = 'confirmed' THEN cancelled_at ELSE coalesce(cancelled_at, $5) END
		WHERE id = $1`, u.ID, u.Refunded, u.Fee, u.Status, u.At)
}

// EscrowDiscrepancies relates escrow balances to bookings: a class not yet settled must hold
// exactly what its bookings paid minus refunds and fees; a settled class must hold nothing.
func (s *Store) EscrowDiscrepancies(ctx context.Context) ([]LedgerDiscrepancy, error) {
	rows, err := s.db.Query(ctx, `WITH held AS (
			SELECT class_id, sum(paid_credits - refunded_credits - fee_credits) AS held FROM bookings GROUP BY class_id),
		esc AS (SELECT owner_id AS class_id, balance FROM ledger_accounts WHERE kind = 'escrow')
		SELECT coalesce(h.class_id, e.class_id)::text,
			'escrow ' || coalesce(e.balance, 0) || ', expected ' ||
			CASE WHEN o.outcome IN ('completed', 'early_end') THEN 0 ELSE coalesce(h.held, 0) END
		FROM held h FULL JOIN esc e ON e.class_id = h.class_id
		LEFT JOIN class_outcomes o ON o.class_id = coalesce(h.class_id, e.class_id)
		WHERE coalesce(e.balance, 0) <> CASE WHEN o.outcome IN ('completed', 'early_end') THEN 0 ELSE coalesce(h.held, 0) END`)
	if err != nil {
		return nil, wrap("escrow discrepancies", err)
	}
	return collectDiscrepancies(rows, "escrow_matches_bookings")
}

func collectDiscrepancies(rows pgx.Rows, check string) ([]LedgerDiscrepancy, error) {
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (LedgerDiscrepancy, error) {
		d := LedgerDiscrepancy{Check: check}
		return d, r.Scan(&d.Subject, &d.Detail)
	})
	return out, wrap(check, err)
}

// BookingsForRequest returns, in one query, the student's booking made with idempotency key
// (any class) and their confirmed booking of classID, if any (at most two rows).
func (s *Store) BookingsForRequest(ctx context.Context, studentID, classID, key string) ([]Booking, error) {
	rows, err := s.db.Query(ctx, `SELECT `+bookingCols+bookingFrom+` WHERE b.student_id = $1
		AND (b.idempotency_key = $2 OR (b.class_id = $3 AND b.status = 'confirmed'))`, studentID, key, classID)
	return collectBookings(rows, err, "bookings for request")
}
