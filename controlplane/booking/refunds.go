package booking

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Refund rules.
const (
	RuleTeacherNoShow       = "teacher_no_show"
	RuleEarlyEnd            = "early_end"
	RuleClassCancelled      = "class_cancelled"
	RuleStudentCancellation = "student_cancellation"
	RuleAdmin               = "admin"
	RuleDispute             = "dispute"
)

// refundOrder is one refund to carry out on a locked booking of a locked class.
type refundOrder struct {
	booking store.Booking
	class   store.Class
	rule    string
	reason  string
	credits int    // back to the wallet
	fee     int    // kept by the platform (late cancellation)
	status  string // the booking's status afterwards
	actor   string // admin or student who caused it; empty for automatic rules
	// fromPlatform pays the refund from promotions instead of the escrow (the class already
	// settled, so its escrow is empty).
	fromPlatform bool
}

// refund carries out o: the refund record (unique per booking and rule, so a second refund of
// the same booking under a rule is a 409 and changes nothing), the ledger transaction
// "refund:<rule>:booking:<id>",
// the booking's new totals and status, an in-app notification and an email.
func (s *Service) refund(ctx context.Context, tx *store.Store, o refundOrder) (store.Refund, error) {
	b, c := o.booking, o.class
	if o.credits < 0 || o.fee < 0 {
		return store.Refund{}, fmt.Errorf("booking: refund %s: negative amount", b.ID)
	}
	now := s.Now()
	r := store.Refund{BookingID: b.ID, ClassID: c.ID, StudentID: b.StudentID, Rule: o.rule, Reason: o.reason,
		Credits: o.credits, FeeCredits: o.fee, ActorID: o.actor, CreatedAt: now, ClassTitle: c.Title}
	id, err := tx.InsertRefund(ctx, r)
	if errors.Is(err, store.ErrConflict) {
		return store.Refund{}, errAlreadyRefunded
	}
	if err != nil {
		return store.Refund{}, err
	}
	r.ID = id
	source := ledger.EscrowOf(c.ID)
	if o.fromPlatform {
		source = ledger.PromotionsAccount
	}
	p := ledger.Posting{Key: "refund:" + o.rule + ":booking:" + b.ID, Kind: "refund", Memo: "Refund (" + o.rule + "): " + c.Title, At: now,
		Metadata: map[string]any{"booking_id": b.ID, "class_id": c.ID, "rule": o.rule, "refund_id": id},
		Entries: []ledger.Entry{{Account: source, Amount: -int64(o.credits + o.fee)},
			{Account: ledger.WalletOf(b.StudentID), Amount: int64(o.credits)},
			{Account: ledger.RevenueAccount, Amount: int64(o.fee)}}}
	if _, err := ledger.Post(ctx, tx, p); err != nil {
		return store.Refund{}, err
	}
	if err := tx.ApplyBookingRefund(ctx, store.BookingRefundUpdate{ID: b.ID, Refunded: o.credits, Fee: o.fee,
		Status: o.status, At: now}); err != nil {
		return store.Refund{}, err
	}
	s.Metrics.refund(o.rule, o.credits)
	if o.credits == 0 {
		return r, nil
	}
	if err := tx.InsertNotification(ctx, store.Notification{UserID: b.StudentID, Kind: "refund",
		Title: fmt.Sprintf("%d credits refunded", o.credits), Body: fmt.Sprintf("%q: %s", c.Title, o.reason),
		Data: map[string]any{"booking_id": b.ID, "class_id": c.ID, "rule": o.rule, "credits": o.credits}, CreatedAt: now}); err != nil {
		return store.Refund{}, err
	}
	return r, s.mail(ctx, tx, b.StudentEmail, email.KindRefund, map[string]any{"Name": b.StudentName,
		"Credits": o.credits, "ClassTitle": c.Title, "Reason": o.reason})
}

// AdminRefundInput is a manual refund.
type AdminRefundInput struct {
	BookingID string
	Credits   *int // nil: everything still refundable
	Reason    string
}

// AdminRefund refunds a booking fully or partly with a reason (e.g. a technical failure).
// Before the class settles the credits come from its escrow; after, from the platform.
func (s *Service) AdminRefund(ctx context.Context, a Actor, in AdminRefundInput) (store.Refund, error) {
	reason, err := checkReason(in.Reason)
	if err != nil {
		return store.Refund{}, err
	}
	var out store.Refund
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		out, err = s.manualRefund(ctx, tx, in.BookingID, RuleAdmin, reason, in.Credits, a.UserID)
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "refund.manual", TargetType: "booking",
			TargetID: in.BookingID, Details: map[string]any{"credits": out.Credits, "refund_id": out.ID}})
	})
	return out, err
}

func (s *Service) manualRefund(ctx context.Context, tx *store.Store, bookingID, rule, reason string, credits *int, actor string) (store.Refund, error) {
	b, err := tx.BookingByID(ctx, bookingID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Refund{}, problem.Validation(map[string]string{"booking_id": "no such booking"})
	}
	if err != nil {
		return store.Refund{}, err
	}
	c, err := lockClass(ctx, tx, b.ClassID)
	if err != nil {
		return store.Refund{}, err
	}
	if b, err = tx.BookingByIDForUpdate(ctx, bookingID); err != nil {
		return store.Refund{}, err
	}
	settled := false
	if o, err := tx.ClassOutcomeByID(ctx, c.ID); err == nil {
		settled = o.Outcome == store.OutcomeCompleted || o.Outcome == store.OutcomeEarlyEnd
	} else if !errors.Is(err, store.ErrNotFound) {
		return store.Refund{}, err
	}
	max := b.Held()
	if max <= 0 {
		return store.Refund{}, errAlreadyRefunded
	}
	n := max
	if credits != nil {
		n = *credits
	}
	if n < 1 || n > max {
		return store.Refund{}, problem.Validation(map[string]string{"credits": fmt.Sprintf("must be from 1 to %d", max)})
	}
	status := b.Status
	if n == max {
		status = store.BookingRefunded
	}
	r, err := s.refund(ctx, tx, refundOrder{booking: b, class: c, rule: rule, reason: reason, credits: n,
		status: status, actor: actor, fromPlatform: settled})
	if err != nil {
		return r, err
	}
	if b.Status == store.BookingConfirmed && status == store.BookingRefunded && s.Now().Before(c.StartsAt) {
		if err := tx.FreeSeat(ctx, c.ID); err != nil {
			return r, err
		}
		c.SeatsTaken--
		return r, s.offerSeats(ctx, tx, c, s.Now())
	}
	return r, nil
}

func checkReason(reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n < 3 || n > 1000 {
		return "", problem.Validation(map[string]string{"reason": "must be 3 to 1000 characters"})
	}
	return reason, nil
}

// OpenDispute lets a student contest a booking of a class that has started or ended.
func (s *Service) OpenDispute(ctx context.Context, a Actor, bookingID, reason string) (store.Dispute, error) {
	reason, err := checkReason(reason)
	if err != nil {
		return store.Dispute{}, err
	}
	var out store.Dispute
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		b, err := tx.BookingByIDForUpdate(ctx, bookingID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && b.StudentID != a.UserID) {
			return errBookingNotFound
		}
		if err != nil {
			return err
		}
		if s.Now().Before(b.ClassStartsAt) {
			return problem.New(http.StatusConflict, CodeTooEarlyToDispute, "only past bookings can be disputed; cancel it instead")
		}
		closes := b.ClassStartsAt.Add(time.Duration(b.ClassMinutes)*time.Minute + s.cfg.DisputeWindow)
		if s.Now().After(closes) {
			return problem.New(http.StatusConflict, CodeDisputeWindowClosed, "disputes must be opened within "+
				s.cfg.DisputeWindow.String()+" of the class's end")
		}
		if b.Held() <= 0 {
			return errAlreadyRefunded
		}
		out, err = tx.InsertDispute(ctx, b.ID, a.UserID, reason, s.Now())
		if errors.Is(err, store.ErrConflict) {
			return problem.New(http.StatusConflict, CodeDisputeExists, "this booking already has a dispute")
		}
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "dispute.opened", TargetType: "booking",
			TargetID: b.ID, Details: map[string]any{"dispute_id": out.ID}})
	})
	return out, err
}

// ResolveInput is an admin's decision on a dispute.
type ResolveInput struct {
	DisputeID string
	Refund    bool // true: refund (Credits or everything refundable); false: reject
	Credits   *int
	Note      string
}

// ResolveDispute closes an open dispute, refunding the booking under the "dispute" rule or
// rejecting it. A dispute is resolved once; later attempts are 409.
func (s *Service) ResolveDispute(ctx context.Context, a Actor, in ResolveInput) (store.Dispute, *store.Refund, error) {
	note, err := checkReason(in.Note)
	if err != nil {
		return store.Dispute{}, nil, problem.Validation(map[string]string{"note": "must be 3 to 1000 characters"})
	}
	var (
		out store.Dispute
		ref *store.Refund
	)
	err = s.Store.InTx(ctx, func(tx *store.Store) error {
		d, err := tx.DisputeForUpdate(ctx, in.DisputeID)
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(http.StatusNotFound, problem.CodeNotFound, "no such dispute")
		}
		if err != nil {
			return err
		}
		if d.Status != "open" {
			return problem.New(http.StatusConflict, CodeDisputeClosed, "this dispute is already resolved")
		}
		status := "rejected"
		if in.Refund {
			r, err := s.manualRefund(ctx, tx, d.BookingID, RuleDispute, "dispute upheld: "+note, in.Credits, a.UserID)
			if err != nil {
				return err
			}
			ref, status = &r, "refunded"
		}
		if out, err = tx.ResolveDispute(ctx, d.ID, status, note, a.UserID, s.Now()); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, store.AuditEntry{ActorID: a.UserID, Action: "dispute.resolved", TargetType: "dispute",
			TargetID: d.ID, Details: map[string]any{"status": status}})
	})
	return out, ref, err
}

// Disputes lists disputes in status ("" for all).
func (s *Service) Disputes(ctx context.Context, status string, limit int) ([]store.Dispute, error) {
	return s.Store.ListDisputes(ctx, status, limit)
}

// RefundReport is the admin refund list with per-rule statistics.
type RefundReport struct {
	Items []store.Refund
	Stats []store.RefundStat
}

// Refunds lists refunds matching f with statistics since since (nil: all time).
func (s *Service) Refunds(ctx context.Context, f store.RefundFilter, since *time.Time) (RefundReport, error) {
	items, err := s.Store.ListRefunds(ctx, f)
	if err != nil {
		return RefundReport{}, err
	}
	stats, err := s.Store.RefundStats(ctx, since)
	return RefundReport{Items: items, Stats: stats}, err
}
