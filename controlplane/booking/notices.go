package booking

import (
	"context"
	"fmt"
	"time"

	"github.com/atrium-live/atrium/controlplane/calendar"
	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Notices of bookings (docs/notifications.md): in-app records and emails, times in the
// recipient's zone, and the calendar invite (.ics) that goes with booking and cancellation
// emails. Preferences are honoured by the store (in-app) and the outbox (email).

// fmtIn formats t for a recipient in zone tz, naming the zone.
func fmtIn(t time.Time, tz string) string { return calendar.FormatIn(t, tz) }

// inviteSequence is the iCalendar SEQUENCE of a booking's invite and of its cancellation,
// which must be higher for calendars to apply it (RFC 5546 §2.1.4).
const (
	inviteSequence = 0
	cancelSequence = 1
)

// invite returns the .ics attachment for booking b: METHOD:REQUEST, or METHOD:CANCEL when
// cancelled. The UID is the booking's, so the cancellation replaces the invite.
func (s *Service) invite(b store.Booking, cancelled bool, now time.Time) (store.Attachment, error) {
	method, seq := calendar.MethodRequest, inviteSequence
	if cancelled {
		method, seq = calendar.MethodCancel, cancelSequence
	}
	ev := calendar.Event{UID: BookingUID(b.ID, s.cfg.CalendarDomain), Sequence: seq, Start: b.ClassStartsAt,
		End: b.ClassStartsAt.Add(time.Duration(b.ClassMinutes) * time.Minute), TimeZone: b.ClassTimeZone,
		Summary: b.ClassTitle, Description: "Join the class at " + s.classLink(b.ClassID), URL: s.classLink(b.ClassID),
		Cancelled: cancelled, Attendee: &calendar.Person{Name: b.StudentName, Email: b.StudentEmail}}
	if s.cfg.Organizer.Email != "" {
		o := s.cfg.Organizer
		ev.Organizer = &o
	}
	raw, err := calendar.Calendar{Method: method, Stamp: now, Events: []calendar.Event{ev}}.Bytes()
	if err != nil {
		return store.Attachment{}, fmt.Errorf("booking: invite %s: %w", b.ID, err)
	}
	name := "invite.ics"
	if cancelled {
		name = "cancel.ics"
	}
	return store.Attachment{Filename: name, ContentType: "text/calendar; method=" + method + "; charset=utf-8", Content: raw}, nil
}

// BookingUID is the iCalendar UID of a booking's event, stable for the booking's life (the
// invite, its cancellation and the feed use it).
func BookingUID(bookingID, domain string) string { return "booking-" + bookingID + "@" + domain }

// ClassUID is the UID of a taught class in its teacher's feed.
func ClassUID(classID, domain string) string { return "class-" + classID + "@" + domain }

// crossedLow reports whether a balance went from at least threshold to below it: the moment
// to warn about low credits once, not at every booking while low. threshold 0 disables.
func crossedLow(before, after, threshold int64) bool {
	return threshold > 0 && before >= threshold && after < threshold
}

// notifyLowCredits stores the low-credits notice when a booking took the wallet below the
// threshold.
func (s *Service) notifyLowCredits(ctx context.Context, tx *store.Store, userID string, before, after int64, now time.Time) error {
	if !crossedLow(before, after, int64(s.cfg.LowCreditsBelow)) {
		return nil
	}
	return tx.InsertNotification(ctx, store.Notification{UserID: userID, Kind: notify.KindLowCredits,
		Title: fmt.Sprintf("%d credits left", after), Body: "Top up your wallet to keep booking classes.",
		Data: map[string]any{"balance": after, "link": s.cfg.AppURL + "/wallet"}, CreatedAt: now})
}

// cancellationNotice tells a student their booking of b is cancelled (by them or because
// the class was): in-app, and an email with the METHOD:CANCEL invite that removes the event
// from their calendar.
func (s *Service) cancellationNotice(ctx context.Context, tx *store.Store, b store.Booking, headline, reason string, now time.Time) error {
	if err := tx.InsertNotification(ctx, store.Notification{UserID: b.StudentID, Kind: notify.KindCancellation,
		Title: "Cancelled: " + b.ClassTitle, Body: headline + " " + reason,
		Data: map[string]any{"class_id": b.ClassID, "booking_id": b.ID}, CreatedAt: now}); err != nil {
		return err
	}
	ics, err := s.invite(b, true, now)
	if err != nil {
		return err
	}
	if err := s.Mailer.Enqueue(ctx, tx, email.Message{To: b.StudentEmail, Kind: email.KindCancellation,
		Data: map[string]any{"Name": b.StudentName, "ClassTitle": b.ClassTitle, "Headline": headline,
			"StartsAt": fmtIn(b.ClassStartsAt, b.StudentTimeZone), "Reason": reason},
		Attachments: []store.Attachment{ics}}); err != nil {
		return fmt.Errorf("booking: cancellation email: %w", err)
	}
	return nil
}
