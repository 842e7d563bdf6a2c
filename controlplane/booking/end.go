package booking

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/lifecycle"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Lifecycle is where a class stands (docs/classes.md), for everyone who may see the class,
// and for its teacher or an admin what ending it now would do to the students' credits.
type Lifecycle struct {
	ClassID  string
	State    lifecycle.State
	Joinable bool
	OpensAt  time.Time
	ClosesAt time.Time
	// SettlesAt is when money is decided (nil once it is).
	SettlesAt *time.Time
	EndedAt   *time.Time
	Locked    bool
	// Outcome is the recorded money outcome ("" while none is).
	Outcome string
	// EndPreview is what "End class for everyone" would do now; set for the teacher or an
	// admin while the class can be ended.
	EndPreview *EndEffect
}

// EndEffect says what ending a class does to students' credits and the teacher's pay.
type EndEffect struct {
	// Outcome expected at settlement: completed, early_end or no_show.
	Outcome          string
	TaughtMinutes    int
	ScheduledMinutes int
	// RefundCredits is what a student who paid PriceCredits gets back (those who paid less
	// with a discount get the same share of what they paid).
	RefundCredits int
	PriceCredits  int
	SettlesAt     time.Time
	// Message says it in a sentence for the confirmation dialog.
	Message string
}

// EndResult is the answer to EndClass.
type EndResult struct {
	Lifecycle
	// AlreadyEnded: the class had been ended before this call (which changed nothing).
	AlreadyEnded bool
	Effect       EndEffect
}

// ClassLifecycle returns where the class stands at now, with the End preview for its
// teacher or an admin.
func (s *Service) ClassLifecycle(ctx context.Context, a Actor, classID string) (Lifecycle, error) {
	c, err := s.Store.ClassByID(ctx, classID)
	if errors.Is(err, store.ErrNotFound) {
		return Lifecycle{}, errClassNotFound
	}
	if err != nil {
		return Lifecycle{}, err
	}
	facts, err := s.Store.ClassFacts(ctx, c)
	if err != nil {
		return Lifecycle{}, err
	}
	now := s.Now()
	d := lifecycle.Decide(facts, s.cfg.Lifecycle, now)
	out := s.lifecycleView(c, facts, d)
	if (c.TeacherID == a.UserID || a.Role == "admin") && (d.State == lifecycle.Live || d.State == lifecycle.Overtime) {
		e := s.endEffect(c, lifecycle.EndPreview(facts, s.cfg.Lifecycle, now))
		out.EndPreview = &e
	}
	return out, nil
}

func (s *Service) lifecycleView(c store.Class, f lifecycle.Class, d lifecycle.Decision) Lifecycle {
	out := Lifecycle{ClassID: c.ID, State: d.State, Joinable: d.Joinable, OpensAt: d.OpensAt, ClosesAt: d.ClosesAt,
		EndedAt: c.EndedAt, Locked: c.LockedAt != nil, Outcome: f.Outcome}
	if f.Outcome == "" && !f.Cancelled {
		t := d.SettlesAt
		out.SettlesAt = &t
	}
	return out
}

// EndClass ends a class for everyone ("End class for everyone"): the class's teacher or an
// admin, once it has started and until its window closed. The join endpoint refuses
// everyone from now on and the room is closed (the caller closes it after this returns);
// money is settled SettleAfter later from the teacher's presence over [start, now], once the
// SFU has reported everyone's leave. Ending a class that was already ended changes nothing
// and reports AlreadyEnded with the same effect, so a retried request is harmless. Audited
// as class.ended.
func (s *Service) EndClass(ctx context.Context, a Actor, classID string) (EndResult, error) {
	var out EndResult
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		c, err := lockClass(ctx, tx, classID)
		if err != nil {
			return err
		}
		if c.TeacherID != a.UserID && a.Role != "admin" {
			return problem.New(http.StatusForbidden, problem.CodeForbidden, "only the class's teacher may end it")
		}
		if c.Status == store.ClassCancelled {
			return problem.New(http.StatusConflict, problem.CodeClassCancelled, "the class was cancelled")
		}
		facts, err := tx.ClassFacts(ctx, c)
		if err != nil {
			return err
		}
		now := s.Now()
		if c.EndedAt != nil {
			out.AlreadyEnded = true
			out.Effect = s.endEffect(c, lifecycle.EndPreview(facts, s.cfg.Lifecycle, *c.EndedAt))
			out.Lifecycle = s.lifecycleView(c, facts, lifecycle.Decide(facts, s.cfg.Lifecycle, now))
			return nil
		}
		d := lifecycle.Decide(facts, s.cfg.Lifecycle, now)
		switch d.State {
		case lifecycle.Scheduled, lifecycle.Open:
			return problem.New(http.StatusConflict, problem.CodeClassNotStarted,
				"the class has not started; cancel it instead if it will not take place")
		case lifecycle.Ended, lifecycle.Settled, lifecycle.Cancelled:
			return problem.New(http.StatusConflict, problem.CodeClassEnded, "the class has already ended")
		}
		effect := s.endEffect(c, lifecycle.EndPreview(facts, s.cfg.Lifecycle, now))
		if _, err := tx.EndClass(ctx, c.ID, a.UserID, now); err != nil {
			return err
		}
		if err := tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "class.ended", TargetType: "class",
			TargetID: c.ID, Details: map[string]any{"expected_outcome": effect.Outcome, "taught_minutes": effect.TaughtMinutes,
				"refund_credits": effect.RefundCredits}}); err != nil {
			return err
		}
		c.EndedAt, facts.EndedAt = &now, &now
		out.Effect = effect
		out.Lifecycle = s.lifecycleView(c, facts, lifecycle.Decide(facts, s.cfg.Lifecycle, now))
		return nil
	})
	return out, err
}

// endEffect turns a settlement decision into what it means for money, in numbers and words.
func (s *Service) endEffect(c store.Class, d lifecycle.Decision) EndEffect {
	e := EndEffect{Outcome: d.Outcome, TaughtMinutes: int(d.Taught / time.Minute), ScheduledMinutes: int(d.Scheduled / time.Minute),
		PriceCredits: c.PriceCredits, SettlesAt: d.SettlesAt}
	if sched := int64(d.Scheduled / time.Second); sched > 0 {
		// The same arithmetic as settle's early-end refund.
		e.RefundCredits = int(int64(c.PriceCredits) * int64(d.Missing/time.Second) / sched)
	}
	p := s.cfg.Lifecycle
	lead := "Everyone will be disconnected and nobody can rejoin. "
	switch d.Outcome {
	case lifecycle.OutcomeCompleted:
		e.Message = lead + fmt.Sprintf("You taught %d of %d scheduled minutes (at least %d%%), so students are not refunded "+
			"and the class is paid to you, minus commission.", e.TaughtMinutes, e.ScheduledMinutes, p.EarlyEndPercent)
	case lifecycle.OutcomeEarlyEnd:
		e.Message = lead + fmt.Sprintf("You taught %d of %d scheduled minutes (less than %d%%), so each student gets the "+
			"untaught share back (%d of %d credits) and you are paid for the rest, minus commission.",
			e.TaughtMinutes, e.ScheduledMinutes, p.EarlyEndPercent, e.RefundCredits, e.PriceCredits)
	default:
		e.Message = lead + fmt.Sprintf("You were in the class for %d minutes, less than the minimum of %s, so every student "+
			"gets all %d credits back and you are not paid for this class.", e.TaughtMinutes,
			fmtDur(min(p.MinTeaching, d.Scheduled)), e.PriceCredits)
	}
	return e
}

// fmtDur says d in minutes (or seconds, below one).
func fmtDur(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%d seconds", int(d/time.Second))
	}
	if d == time.Minute {
		return "1 minute"
	}
	return fmt.Sprintf("%d minutes", int(d/time.Minute))
}
