// Package roster is the teacher's view of a class's people: who booked (names and avatars),
// who is waiting for a seat, who attended and for how long (attendance judged as the class
// lifecycle judges it, docs/classes.md), as JSON or CSV, and a message from the teacher to
// every booked student (an email through the outbox and an in-app notification each).
//
// Only the class's teacher and admins may read or message a roster. Student rows never
// include the teacher, ids are whole (never fragments), and email addresses are not shown.
// A *Service is safe for concurrent use.
package roster

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/lifecycle"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Mailer queues an email in the caller's transaction (*email.Outbox).
type Mailer interface {
	Enqueue(ctx context.Context, st *store.Store, m email.Message) error
}

// Deps are the service's collaborators; all are required but Now.
type Deps struct {
	Store  *store.Store
	Mailer Mailer
	Log    *slog.Logger
	Now    func() time.Time
}

// Config is the lifecycle policy (for attendance) and the public URL for links in emails.
type Config struct {
	Lifecycle lifecycle.Policy
	AppURL    string
}

// Service builds rosters and sends class messages.
type Service struct {
	cfg Config
	Deps
}

// New returns a Service.
func New(cfg Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	return &Service{cfg: cfg, Deps: d}
}

// Avatar is drawn by the UI: the person's initials on a colour derived from their id (users
// have no uploaded pictures).
type Avatar struct {
	Initials string
	Color    string // CSS hsl()
}

// Student is a booked student's row.
type Student struct {
	UserID        string
	Name          string
	Avatar        Avatar
	BookingID     string
	BookingStatus string // confirmed or refunded (a cancelled booking is not on the roster)
	BookedAt      time.Time
	// Attendance within the class's join window.
	Attended        bool
	AttendedSeconds int
	FirstJoinedAt   *time.Time
	LastLeftAt      *time.Time
	InRoom          bool // connected now, as far as the SFU reported
	Banned          bool
}

// Waiting is a waitlist row.
type Waiting struct {
	UserID         string
	Name           string
	Avatar         Avatar
	Status         string // waiting or offered
	Position       int    // 1-based among those waiting (0 for an open offer)
	OfferExpiresAt *time.Time
	Since          time.Time
}

// Roster is a class's people.
type Roster struct {
	ClassID    string
	Title      string
	StartsAt   time.Time
	EndsAt     time.Time
	Capacity   int
	SeatsTaken int
	State      lifecycle.State
	Students   []Student
	Waitlist   []Waiting
	// TeacherAttendedSeconds is the teacher's own presence within the window (not a row).
	TeacherAttendedSeconds int
}

var errNotFound = problem.New(http.StatusNotFound, problem.CodeNotFound, "no such class")

// classFor loads the class and checks that a may see its roster.
func (s *Service) classFor(ctx context.Context, userID, role, classID string) (store.Class, error) {
	c, err := s.Store.ClassByID(ctx, classID)
	if errors.Is(err, store.ErrNotFound) {
		return c, errNotFound
	}
	if err != nil {
		return c, fmt.Errorf("roster: %w", err)
	}
	if c.TeacherID != userID && role != "admin" {
		return c, problem.New(http.StatusForbidden, problem.CodeForbidden, "only the class's teacher may see its roster")
	}
	return c, nil
}

// Get returns the roster of classID for its teacher or an admin.
func (s *Service) Get(ctx context.Context, userID, role, classID string) (Roster, error) {
	c, err := s.classFor(ctx, userID, role, classID)
	if err != nil {
		return Roster{}, err
	}
	bookings, err := s.Store.ClassBookings(ctx, classID)
	if err != nil {
		return Roster{}, err
	}
	waiting, err := s.Store.ClassWaitlist(ctx, classID)
	if err != nil {
		return Roster{}, err
	}
	bans, err := s.Store.ClassBans(ctx, classID)
	if err != nil {
		return Roster{}, err
	}
	facts, err := s.Store.ClassFacts(ctx, c)
	if err != nil {
		return Roster{}, err
	}
	now := s.Now()
	d := lifecycle.Decide(facts, s.cfg.Lifecycle, now)
	// While the window is open, a session without a leave is someone still in the room;
	// afterwards it was cut by a failure and counts as the lifecycle rules count it.
	var openUntil *time.Time
	if now.Before(d.ClosesAt) {
		openUntil = &now
	}
	banned := map[string]bool{}
	for _, b := range bans {
		banned[b.UserID] = true
	}
	r := Roster{ClassID: c.ID, Title: c.Title, StartsAt: c.StartsAt, EndsAt: c.EndsAt(), Capacity: c.Capacity,
		SeatsTaken: c.SeatsTaken, State: d.State, Students: []Student{}, Waitlist: []Waiting{}}
	r.TeacherAttendedSeconds = int(lifecycle.Presence(facts.Sessions, c.TeacherID, d.OpensAt, d.ClosesAt, openUntil) / time.Second)
	row := map[string]int{} // student id -> index in r.Students
	for _, b := range bookings {
		if b.Status == store.BookingCancelled || b.StudentID == c.TeacherID {
			continue
		}
		st := Student{UserID: b.StudentID, Name: b.StudentName, Avatar: avatarOf(b.StudentID, b.StudentName),
			BookingID: b.ID, BookingStatus: b.Status, BookedAt: b.CreatedAt, Banned: banned[b.StudentID]}
		if i, ok := row[b.StudentID]; ok {
			// Rebooked after a refund: the later booking (confirmed wins) is the row.
			if r.Students[i].BookingStatus == store.BookingConfirmed && b.Status != store.BookingConfirmed {
				continue
			}
			r.Students[i] = st
			continue
		}
		row[b.StudentID] = len(r.Students)
		r.Students = append(r.Students, st)
	}
	for i := range r.Students {
		st := &r.Students[i]
		st.AttendedSeconds = int(lifecycle.Presence(facts.Sessions, st.UserID, d.OpensAt, d.ClosesAt, openUntil) / time.Second)
		for _, a := range facts.Sessions {
			if a.UserID != st.UserID {
				continue
			}
			st.Attended = true
			if st.FirstJoinedAt == nil || a.Joined.Before(*st.FirstJoinedAt) {
				t := a.Joined
				st.FirstJoinedAt = &t
			}
			if a.Left == nil {
				st.InRoom = st.InRoom || openUntil != nil
			} else if st.LastLeftAt == nil || a.Left.After(*st.LastLeftAt) {
				t := *a.Left
				st.LastLeftAt = &t
			}
		}
	}
	for _, w := range waiting {
		r.Waitlist = append(r.Waitlist, Waiting{UserID: w.StudentID, Name: w.StudentName, Avatar: avatarOf(w.StudentID, w.StudentName),
			Status: w.Status, Position: w.Position, OfferExpiresAt: w.OfferExpiresAt, Since: w.CreatedAt})
	}
	return r, nil
}

// WriteCSV writes r as CSV: one row per booked student, then one per waitlisted student.
// Times are RFC 3339 UTC; user text is defused against spreadsheet formulas.
func WriteCSV(w io.Writer, r Roster) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"name", "status", "booked_at", "attended", "attended_minutes", "first_joined_at",
		"last_left_at", "banned", "waitlist_position"})
	for _, s := range r.Students {
		_ = cw.Write([]string{csvSafe(s.Name), s.BookingStatus, s.BookedAt.UTC().Format(time.RFC3339), yesNo(s.Attended),
			strconv.Itoa((s.AttendedSeconds + 30) / 60), fmtTime(s.FirstJoinedAt), fmtTime(s.LastLeftAt), yesNo(s.Banned), ""})
	}
	for _, q := range r.Waitlist {
		_ = cw.Write([]string{csvSafe(q.Name), "waitlist_" + q.Status, q.Since.UTC().Format(time.RFC3339), "no", "0", "", "",
			"no", strconv.Itoa(q.Position)})
	}
	cw.Flush()
	return cw.Error()
}

// MessageResult says how many students a message reached.
type MessageResult struct {
	Recipients int
}

// Message sends text from the class's teacher (or an admin) to every student with a
// confirmed booking: an email through the outbox and an in-app notification each, in one
// transaction (all or none). The subject is "<class title>: message from <sender>".
// Audited as class.messaged with the recipient count (not the text).
func (s *Service) Message(ctx context.Context, userID, role, senderName, classID, text string) (MessageResult, error) {
	text = strings.TrimSpace(text)
	if n := utf8.RuneCountInString(text); n < 1 || n > 2000 {
		return MessageResult{}, problem.Validation(map[string]string{"message": "must be 1 to 2000 characters"})
	}
	c, err := s.classFor(ctx, userID, role, classID)
	if err != nil {
		return MessageResult{}, err
	}
	if c.Status == store.ClassCancelled {
		return MessageResult{}, problem.New(http.StatusConflict, problem.CodeClassCancelled, "the class was cancelled")
	}
	var out MessageResult
	now := s.Now()
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		bookings, err := tx.ClassBookings(ctx, classID)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, b := range bookings {
			if b.Status != store.BookingConfirmed || seen[b.StudentID] || b.StudentID == c.TeacherID {
				continue
			}
			seen[b.StudentID] = true
			if err := tx.InsertNotification(ctx, store.Notification{UserID: b.StudentID, Kind: "class_message",
				Title: "Message about " + c.Title, Body: text,
				Data:      map[string]any{"class_id": c.ID, "from": senderName, "from_id": userID},
				CreatedAt: now}); err != nil {
				return err
			}
			if err := s.Mailer.Enqueue(ctx, tx, email.Message{To: b.StudentEmail, Kind: email.KindClassMessage,
				Data: map[string]any{"Name": b.StudentName, "ClassTitle": c.Title, "From": senderName, "Message": text,
					"Link": s.cfg.AppURL + "/classes/" + c.ID}}); err != nil {
				return fmt.Errorf("roster: message email: %w", err)
			}
			out.Recipients++
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: userID, Action: "class.messaged", TargetType: "class",
			TargetID: c.ID, Details: map[string]any{"recipients": out.Recipients, "characters": utf8.RuneCountInString(text)}})
	})
	return out, err
}

// avatarOf is the initials of name (up to two) on a hue derived from id.
func avatarOf(id, name string) Avatar {
	var initials []rune
	for _, w := range strings.Fields(name) {
		r, _ := utf8.DecodeRuneInString(w)
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			initials = append(initials, unicode.ToUpper(r))
		}
		if len(initials) == 2 {
			break
		}
	}
	if len(initials) == 0 {
		initials = []rune{'?'}
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	return Avatar{Initials: string(initials), Color: fmt.Sprintf("hsl(%d 55%% 45%%)", h.Sum32()%360)}
}

func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func fmtTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
