package recordings

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Access is what a viewer may watch of a class's recordings.
type Access int

const (
	// AccessNone: nothing (403 not_booked).
	AccessNone Access = iota
	// AccessLive: the class's running recording only, live, view-only: a student on the
	// waitlist of a full class watches while it is recorded. Once the recording ends it is
	// the booked students' again.
	AccessLive
	// AccessAll: every recording, live and later (teacher, admins, booked students).
	AccessAll
)

// viewer is what decides a viewer's access to a class's recordings.
type viewer struct {
	manager bool                 // the class's teacher or an admin
	booked  bool                 // a confirmed booking
	wait    *store.WaitlistEntry // the viewer's waitlist entry for the class (nil: none)
}

// accessFor is the rule: the teacher, admins and booked students watch everything; a
// student queued for the full class watches the running recording live, for free, since
// the room had no seat for them and a live HLS view costs the teacher nothing (it takes
// no seat and no SFU capacity). Queued means still waiting or holding an offer, closed
// with the waitlist when the class was settled while still running, or holding an offer
// that lapsed only because the class began (offers never outlive the start). A student who
// left the queue, or let a seat offered before the start pass to the next student, does
// not: a free live view must never be a reason to decline a paid seat. Nothing of a
// cancelled class is live for the queue.
func accessFor(v viewer, c store.Class) Access {
	switch {
	case v.manager, v.booked:
		return AccessAll
	case v.wait == nil, c.Status == store.ClassCancelled:
		return AccessNone
	}
	switch v.wait.Status {
	case store.WaitWaiting, store.WaitOffered, store.WaitClosed:
		return AccessLive
	case store.WaitExpired:
		if v.wait.OfferExpiresAt != nil && !v.wait.OfferExpiresAt.Before(c.StartsAt) {
			return AccessLive
		}
	}
	return AccessNone
}

// mayOpen reports whether a viewer with access a may fetch recording r's objects.
func (a Access) mayOpen(r store.Recording) bool {
	switch a {
	case AccessAll:
		return true
	case AccessLive:
		return Running(r)
	}
	return false
}

var errLiveEnded = problem.New(http.StatusForbidden, problem.CodeNotBooked,
	"the live class has ended; its recording is for the students who booked")

// access loads what decides a's access to class c and applies accessFor.
func (s *Service) access(ctx context.Context, a Actor, c store.Class) (Access, error) {
	v := viewer{manager: c.TeacherID == a.UserID || a.admin()}
	if v.manager {
		return accessFor(v, c), nil
	}
	ok, err := s.Bookings.HasConfirmedBooking(ctx, c.ID, a.UserID)
	if err != nil {
		return AccessNone, fmt.Errorf("recordings: booking check: %w", err)
	}
	v.booked = ok
	if !ok && a.Role == "student" {
		w, err := s.Store.WaitlistEntryFor(ctx, c.ID, a.UserID)
		switch {
		case err == nil:
			v.wait = &w
		case !errors.Is(err, store.ErrNotFound):
			return AccessNone, fmt.Errorf("recordings: waitlist check: %w", err)
		}
	}
	return accessFor(v, c), nil
}
