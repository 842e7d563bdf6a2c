package booking

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// KindWaitlistOffer is the email sent with a waitlist offer.
const KindWaitlistOffer = email.KindWaitlistOffer

// JoinWaitlist queues a student for a full class, first come first served.
func (s *Service) JoinWaitlist(ctx context.Context, a Actor, classID string) (store.WaitlistEntry, error) {
	if a.Role != "student" {
		return store.WaitlistEntry{}, problem.New(http.StatusForbidden, problem.CodeForbidden, "only students can join waitlists")
	}
	var out store.WaitlistEntry
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		c, err := lockClass(ctx, tx, classID)
		if err != nil {
			return err
		}
		now := s.Now()
		if c.Status != store.ClassScheduled {
			return problem.New(http.StatusConflict, problem.CodeClassCancelled, "the class was cancelled")
		}
		if !now.Before(c.StartsAt) {
			return problem.New(http.StatusConflict, CodeClassStarted, "the class has already started")
		}
		if ok, err := tx.HasConfirmedBooking(ctx, c.ID, a.UserID); err != nil {
			return err
		} else if ok {
			return problem.New(http.StatusConflict, CodeAlreadyBooked, "you already booked this class")
		}
		offers, err := tx.ActiveOffers(ctx, c.ID, "", now)
		if err != nil {
			return err
		}
		if c.Capacity-c.SeatsTaken-offers > 0 {
			return problem.New(http.StatusConflict, CodeSeatsAvailable, "the class has free seats; book one instead")
		}
		out, err = tx.JoinWaitlist(ctx, c.ID, a.UserID, now)
		if errors.Is(err, store.ErrConflict) {
			return problem.New(http.StatusConflict, CodeAlreadyWaitlisted, "you are already on this waitlist")
		}
		return err
	})
	return out, err
}

// LeaveWaitlist removes the student from a class's waitlist; a pending offer passes on.
func (s *Service) LeaveWaitlist(ctx context.Context, a Actor, classID string) error {
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		c, err := lockClass(ctx, tx, classID)
		if err != nil {
			return err
		}
		w, err := tx.WaitlistEntryFor(ctx, classID, a.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return problem.New(http.StatusNotFound, problem.CodeNotFound, "you are not on this waitlist")
		}
		if err != nil {
			return err
		}
		now := s.Now()
		if err := tx.SetWaitlistStatus(ctx, w.ID, store.WaitLeft, now, store.WaitWaiting, store.WaitOffered); errors.Is(err, store.ErrNotFound) {
			return problem.New(http.StatusNotFound, problem.CodeNotFound, "you are not on this waitlist")
		} else if err != nil {
			return err
		}
		return s.offerSeats(ctx, tx, c, now)
	})
}

// WaitlistStatus returns the student's entry for a class.
func (s *Service) WaitlistStatus(ctx context.Context, a Actor, classID string) (store.WaitlistEntry, error) {
	w, err := s.Store.WaitlistEntryFor(ctx, classID, a.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return w, problem.New(http.StatusNotFound, problem.CodeNotFound, "you are not on this waitlist")
	}
	return w, err
}

// offerSeats offers every seat that is free and not already offered to the next waiting
// students, each until ClaimWindow from now but never past the start. c must be locked and
// current.
func (s *Service) offerSeats(ctx context.Context, tx *store.Store, c store.Class, now time.Time) error {
	if c.Status != store.ClassScheduled || !now.Before(c.StartsAt) {
		return nil
	}
	offers, err := tx.ActiveOffers(ctx, c.ID, "", now)
	if err != nil {
		return err
	}
	free := c.Capacity - c.SeatsTaken - offers
	if free <= 0 {
		return nil
	}
	expires := now.Add(s.cfg.ClaimWindow)
	if expires.After(c.StartsAt) {
		expires = c.StartsAt
	}
	offered, err := tx.OfferNextSeats(ctx, c.ID, free, now, expires)
	if err != nil {
		return err
	}
	for _, w := range offered {
		if err := tx.InsertNotification(ctx, store.Notification{UserID: w.StudentID, Kind: "waitlist_offer",
			Title: "A seat is free: " + c.Title,
			Body:  fmt.Sprintf("Book it before %s or it passes to the next student.", fmtIn(expires, w.StudentTimeZone)),
			Data:  map[string]any{"class_id": c.ID, "expires_at": expires.UTC()}, CreatedAt: now}); err != nil {
			return err
		}
		if err := s.mail(ctx, tx, w.StudentEmail, KindWaitlistOffer, map[string]any{"Name": w.StudentName,
			"ClassTitle": c.Title, "StartsAt": fmtIn(c.StartsAt, w.StudentTimeZone), "ExpiresAt": fmtIn(expires, w.StudentTimeZone),
			"Link": s.classLink(c.ID)}); err != nil {
			return err
		}
	}
	return nil
}

// expireOffers ends offers past their window and passes each freed seat to the next in line.
func (s *Service) expireOffers(ctx context.Context, now time.Time) (int, error) {
	var classes []string
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		expired, err := tx.ExpireOffers(ctx, now)
		if err != nil {
			return err
		}
		open, err := tx.ClassesWithOpenWaitlist(ctx, now)
		classes = append(expired, open...)
		return err
	})
	if err != nil {
		return 0, err
	}
	seen := map[string]bool{}
	for _, id := range classes {
		if seen[id] {
			continue
		}
		seen[id] = true
		err := s.Store.InTx(ctx, func(tx *store.Store) error {
			c, err := lockClass(ctx, tx, id)
			if err != nil {
				return err
			}
			return s.offerSeats(ctx, tx, c, now)
		})
		if err != nil {
			return 0, fmt.Errorf("booking: pass offers of class %s: %w", id, err)
		}
	}
	return len(seen), nil
}
