package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Class statuses.
const (
	ClassScheduled = "scheduled"
	ClassCancelled = "cancelled"
)

// Class is a live class with its teacher's public name and rating.
type Class struct {
	ID                 string
	TeacherID          string
	TeacherName        string
	TeacherRatingSum   int64
	TeacherRatingCount int
	Title              string
	Topic              string
	Description        string
	StartsAt           time.Time
	DurationMinutes    int
	TimeZone           string
	Capacity           int
	SeatsTaken         int
	Tier               string
	PriceCredits       int
	Recordable         bool
	StudentsCanPublish bool
	Status             string
	CancelledAt        *time.Time
	CancelReason       string
	RoomStartedAt      *time.Time
	TeacherJoinedAt    *time.Time
	RoomFinishedAt     *time.Time
	// Lifecycle (docs/classes.md): the explicit End, the no-show check passed, the room
	// closed after the window; moderation: the room lock.
	EndedAt       *time.Time
	EndedBy       string
	TeacherShowed bool
	RoomClosedAt  *time.Time
	LockedAt      *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// EndsAt is the scheduled end.
func (c *Class) EndsAt() time.Time {
	return c.StartsAt.Add(time.Duration(c.DurationMinutes) * time.Minute)
}

// SeatsLeft is capacity minus booked seats.
func (c *Class) SeatsLeft() int { return c.Capacity - c.SeatsTaken }

// TeacherRating is the teacher's average rating, or nil without ratings.
func (c *Class) TeacherRating() *float64 {
	if c.TeacherRatingCount == 0 {
		return nil
	}
	r := float64(c.TeacherRatingSum) / float64(c.TeacherRatingCount)
	return &r
}

const classCols = `c.id, c.teacher_id, t.name, t.rating_sum, t.rating_count, c.title, c.topic, c.description,
	c.starts_at, c.duration_minutes, c.time_zone, c.capacity, c.seats_taken, c.tier, c.price_credits,
	c.recordable, c.students_can_publish, c.status, c.cancelled_at, c.cancel_reason, c.room_started_at,
	c.teacher_joined_at, c.room_finished_at, c.ended_at, coalesce(c.ended_by::text, ''), c.teacher_showed,
	c.room_closed_at, c.locked_at, c.created_at, c.updated_at`

const classFrom = ` FROM classes c JOIN users t ON t.id = c.teacher_id`

func scanClass(row pgx.Row) (Class, error) {
	var c Class
	err := row.Scan(&c.ID, &c.TeacherID, &c.TeacherName, &c.TeacherRatingSum, &c.TeacherRatingCount, &c.Title,
		&c.Topic, &c.Description, &c.StartsAt, &c.DurationMinutes, &c.TimeZone, &c.Capacity, &c.SeatsTaken,
		&c.Tier, &c.PriceCredits, &c.Recordable, &c.StudentsCanPublish, &c.Status, &c.CancelledAt,
		&c.CancelReason, &c.RoomStartedAt, &c.TeacherJoinedAt, &c.RoomFinishedAt, &c.EndedAt, &c.EndedBy,
		&c.TeacherShowed, &c.RoomClosedAt, &c.LockedAt, &c.CreatedAt, &c.UpdatedAt)
	return c, err
}

// NewClass is what CreateClass inserts.
type NewClass struct {
	TeacherID          string
	Title              string
	Topic              string
	Description        string
	StartsAt           time.Time
	DurationMinutes    int
	TimeZone           string
	Capacity           int
	Tier               string
	PriceCredits       int
	Recordable         bool
	StudentsCanPublish bool
}

// CreateClass inserts a scheduled class.
func (s *Store) CreateClass(ctx context.Context, n NewClass) (Class, error) {
	var id string
	err := s.db.QueryRow(ctx, `INSERT INTO classes (teacher_id, title, topic, description, starts_at,
		duration_minutes, time_zone, capacity, tier, price_credits, recordable, students_can_publish)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING id`,
		n.TeacherID, n.Title, n.Topic, n.Description, n.StartsAt.UTC(), n.DurationMinutes, n.TimeZone,
		n.Capacity, n.Tier, n.PriceCredits, n.Recordable, n.StudentsCanPublish).Scan(&id)
	if err != nil {
		return Class{}, wrap("create class", err)
	}
	return s.ClassByID(ctx, id)
}

// ClassByID returns a class in any status.
func (s *Store) ClassByID(ctx context.Context, id string) (Class, error) {
	c, err := scanClass(s.db.QueryRow(ctx, `SELECT `+classCols+classFrom+` WHERE c.id = $1`, id))
	return c, wrap("class by id", err)
}

// ClassByIDForUpdate returns a class and locks its row until the transaction ends.
func (s *Store) ClassByIDForUpdate(ctx context.Context, id string) (Class, error) {
	c, err := scanClass(s.db.QueryRow(ctx, `SELECT `+classCols+classFrom+` WHERE c.id = $1 FOR UPDATE OF c`, id))
	return c, wrap("class by id for update", err)
}

// ClassUpdate changes the fields that are non-nil.
type ClassUpdate struct {
	Title              *string
	Topic              *string
	Description        *string
	StartsAt           *time.Time
	DurationMinutes    *int
	TimeZone           *string
	Capacity           *int
	Tier               *string
	PriceCredits       *int
	Recordable         *bool
	StudentsCanPublish *bool
}

// UpdateClass applies u to class id. A capacity below the seats already taken is refused by
// the database (ErrConflict), which also covers a booking racing the edit.
func (s *Store) UpdateClass(ctx context.Context, id string, u ClassUpdate) (Class, error) {
	var starts *time.Time
	if u.StartsAt != nil {
		t := u.StartsAt.UTC()
		starts = &t
	}
	tag, err := s.db.Exec(ctx, `UPDATE classes SET title = coalesce($2, title), topic = coalesce($3, topic),
		description = coalesce($4, description), starts_at = coalesce($5, starts_at),
		duration_minutes = coalesce($6, duration_minutes), time_zone = coalesce($7, time_zone),
		capacity = coalesce($8, capacity), tier = coalesce($9, tier), price_credits = coalesce($10, price_credits),
		recordable = coalesce($11, recordable), students_can_publish = coalesce($12, students_can_publish),
		updated_at = now() WHERE id = $1`, id, u.Title, u.Topic, u.Description, starts, u.DurationMinutes,
		u.TimeZone, u.Capacity, u.Tier, u.PriceCredits, u.Recordable, u.StudentsCanPublish)
	if err != nil {
		if isCheck(err) {
			return Class{}, fmt.Errorf("update class: %w", ErrConflict)
		}
		return Class{}, wrap("update class", err)
	}
	if tag.RowsAffected() == 0 {
		return Class{}, wrap("update class", ErrNotFound)
	}
	return s.ClassByID(ctx, id)
}

// CancelClass marks a scheduled class cancelled; ErrNotFound if it is not scheduled.
func (s *Store) CancelClass(ctx context.Context, id, reason string, now time.Time) (Class, error) {
	if err := s.exec1(ctx, "cancel class", `UPDATE classes SET status = 'cancelled', cancelled_at = $2,
		cancel_reason = $3, updated_at = now() WHERE id = $1 AND status = 'scheduled'`, id, now, reason); err != nil {
		return Class{}, err
	}
	return s.ClassByID(ctx, id)
}

// Room lifecycle marks, each set once (the first event wins; duplicates change nothing).
// They report whether this call set the mark.

// MarkRoomStarted records when the class room first started.
func (s *Store) MarkRoomStarted(ctx context.Context, id string, at time.Time) (bool, error) {
	return s.markOnce(ctx, "room_started_at", id, at)
}

// MarkTeacherJoined records when the teacher first joined the room.
func (s *Store) MarkTeacherJoined(ctx context.Context, id string, at time.Time) (bool, error) {
	return s.markOnce(ctx, "teacher_joined_at", id, at)
}

// MarkRoomFinished records when the room finished.
func (s *Store) MarkRoomFinished(ctx context.Context, id string, at time.Time) (bool, error) {
	return s.markOnce(ctx, "room_finished_at", id, at)
}

func (s *Store) markOnce(ctx context.Context, col, id string, at time.Time) (bool, error) {
	// col is one of three constants above, never input.
	tag, err := s.db.Exec(ctx, `UPDATE classes SET `+col+` = $2 WHERE id = $1 AND `+col+` IS NULL`, id, at)
	if err != nil {
		return false, wrap("mark "+col, err)
	}
	return tag.RowsAffected() == 1, nil
}

// Class sort orders for discovery.
const (
	SortStart      = "start"
	SortPrice      = "price"
	SortPopularity = "popularity"
)

// ClassCursor is the keyset position after the last class of a page.
type ClassCursor struct {
	StartsAt time.Time `json:"s,omitempty"`
	Price    int       `json:"p,omitempty"`
	Seats    int       `json:"n,omitempty"`
	ID       string    `json:"i"`
}

// ClassQuery selects scheduled classes for discovery. Zero fields do not filter.
type ClassQuery struct {
	Text      string // PostgreSQL websearch syntax over title, topic, description
	Topic     string
	TeacherID string
	Tier      string
	From, To  *time.Time // start time window
	MinPrice  *int
	MaxPrice  *int
	Sort      string // SortStart (default), SortPrice, SortPopularity
	After     *ClassCursor
	Limit     int
}

// SearchClasses returns up to q.Limit classes and the cursor for the next page (nil at the end).
func (s *Store) SearchClasses(ctx context.Context, q ClassQuery) ([]Class, *ClassCursor, error) {
	var (
		where = []string{"c.status = 'scheduled'"}
		args  []any
	)
	add := func(cond string, vals ...any) {
		for _, v := range vals {
			args = append(args, v)
			cond = strings.Replace(cond, "?", "$"+strconv.Itoa(len(args)), 1)
		}
		where = append(where, cond)
	}
	if q.Text != "" {
		add("c.search @@ websearch_to_tsquery('english', ?)", q.Text)
	}
	if q.Topic != "" {
		add("lower(c.topic) = lower(?)", q.Topic)
	}
	if q.TeacherID != "" {
		add("c.teacher_id = ?", q.TeacherID)
	}
	if q.Tier != "" {
		add("c.tier = ?", q.Tier)
	}
	if q.From != nil {
		add("c.starts_at >= ?", *q.From)
	}
	if q.To != nil {
		add("c.starts_at < ?", *q.To)
	}
	if q.MinPrice != nil {
		add("c.price_credits >= ?", *q.MinPrice)
	}
	if q.MaxPrice != nil {
		add("c.price_credits <= ?", *q.MaxPrice)
	}
	var order string
	switch q.Sort {
	case SortPrice:
		order = "c.price_credits, c.id"
		if q.After != nil {
			add("(c.price_credits, c.id) > (?, ?::uuid)", q.After.Price, q.After.ID)
		}
	case SortPopularity:
		order = "c.seats_taken DESC, c.id DESC"
		if q.After != nil {
			add("(c.seats_taken, c.id) < (?, ?::uuid)", q.After.Seats, q.After.ID)
		}
	default:
		order = "c.starts_at, c.id"
		if q.After != nil {
			add("(c.starts_at, c.id) > (?, ?::uuid)", q.After.StartsAt, q.After.ID)
		}
	}
	args = append(args, q.Limit+1)
	sql := `SELECT ` + classCols + classFrom + ` WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY ` + order + ` LIMIT $` + strconv.Itoa(len(args))
	rows, err := s.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, wrap("search classes", err)
	}
	classes, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Class, error) { return scanClass(r) })
	if err != nil {
		return nil, nil, wrap("search classes", err)
	}
	if len(classes) <= q.Limit {
		return classes, nil, nil
	}
	classes = classes[:q.Limit]
	last := classes[len(classes)-1]
	next := &ClassCursor{ID: last.ID}
	switch q.Sort {
	case SortPrice:
		next.Price = last.PriceCredits
	case SortPopularity:
		next.Seats = last.SeatsTaken
	default:
		next.StartsAt = last.StartsAt
	}
	return classes, next, nil
}
