package booking

import (
	"context"
	"time"

	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/store"
)

// maxRemindersPerSweep bounds one sweep's reminder batch; the next sweep takes the rest.
const maxRemindersPerSweep = 500

// sendReminders queues the "starting soon" email and in-app notification for every
// confirmed booking whose class starts within ReminderBefore, once per booking (the claim
// and the emails commit together). ReminderBefore 0 disables reminders.
func (s *Service) sendReminders(ctx context.Context, now time.Time) (int, error) {
	if s.cfg.ReminderBefore <= 0 {
		return 0, nil
	}
	n := 0
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		bs, err := tx.ClaimReminders(ctx, now, s.cfg.ReminderBefore, maxRemindersPerSweep)
		if err != nil {
			return err
		}
		for _, b := range bs {
			if err := tx.InsertNotification(ctx, store.Notification{UserID: b.StudentID, Kind: "class_starting",
				Title: "Starting soon: " + b.ClassTitle, Body: "Your class starts at " + fmtTime(b.ClassStartsAt) + ".",
				Data: map[string]any{"class_id": b.ClassID, "booking_id": b.ID}, CreatedAt: now}); err != nil {
				return err
			}
			if err := s.mail(ctx, tx, b.StudentEmail, email.KindReminder, map[string]any{"Name": b.StudentName,
				"ClassTitle": b.ClassTitle, "StartsAt": fmtTime(b.ClassStartsAt), "Link": s.classLink(b.ClassID)}); err != nil {
				return err
			}
		}
		n = len(bs)
		return nil
	})
	return n, err
}
