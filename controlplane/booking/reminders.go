package booking

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/store"
)

// maxRemindersPerSweep bounds one sweep's reminder batch per offset; the next sweep takes the rest.
const maxRemindersPerSweep = 500

// reminderWindows turns the configured offsets into windows, farthest first: the reminder at
// an offset is due from start-offset until the next nearer offset falls due, so a sweep that
// was late sends only the nearest due reminder, never a stale "in 24 hours" an hour before.
// Offsets that are not positive are ignored; duplicates collapse.
func reminderWindows(offsets []time.Duration) []store.ReminderWindow {
	var offs []time.Duration
	seen := map[time.Duration]bool{}
	for _, o := range offsets {
		o = o.Truncate(time.Minute)
		if o > 0 && !seen[o] {
			seen[o] = true
			offs = append(offs, o)
		}
	}
	sort.Slice(offs, func(i, j int) bool { return offs[i] > offs[j] })
	out := make([]store.ReminderWindow, len(offs))
	for i, o := range offs {
		out[i] = store.ReminderWindow{Offset: o}
		if i+1 < len(offs) {
			out[i].Next = offs[i+1]
		}
	}
	return out
}

// humanOffset says how far ahead a reminder is: "in 24 hours", "in 1 hour", "in 15 minutes".
func humanOffset(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return fmt.Sprintf("in 1 %s", unit)
		}
		return fmt.Sprintf("in %d %ss", n, unit)
	}
	switch {
	case d >= time.Hour && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	default:
		return plural(int64(d/time.Minute), "minute")
	}
}

// sendReminders queues the "starting soon" email and in-app notification of every due
// reminder (ReminderOffsets before the start, 24 h and 1 h by default). Each (booking,
// offset) is claimed in booking_reminders, whose primary key makes it happen once even when
// sweeps overlap; the claim and the messages commit together.
func (s *Service) sendReminders(ctx context.Context, now time.Time) (int, error) {
	n := 0
	for _, w := range reminderWindows(s.cfg.ReminderOffsets) {
		err := s.Store.InTx(ctx, func(tx *store.Store) error {
			bs, err := tx.ClaimReminders(ctx, now, w, maxRemindersPerSweep)
			if err != nil {
				return err
			}
			in := humanOffset(w.Offset)
			for _, b := range bs {
				starts := fmtIn(b.ClassStartsAt, b.StudentTimeZone)
				if err := tx.InsertNotification(ctx, store.Notification{UserID: b.StudentID, Kind: notify.KindClassStarting,
					Title: "Starting " + in + ": " + b.ClassTitle, Body: "Your class starts at " + starts + ".",
					Data:      map[string]any{"class_id": b.ClassID, "booking_id": b.ID, "offset_minutes": int(w.Offset / time.Minute)},
					CreatedAt: now}); err != nil {
					return err
				}
				if err := s.mail(ctx, tx, b.StudentEmail, email.KindReminder, map[string]any{"Name": b.StudentName,
					"ClassTitle": b.ClassTitle, "StartsAt": starts, "In": in, "Link": s.classLink(b.ClassID)}); err != nil {
					return err
				}
			}
			n += len(bs)
			return nil
		})
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
