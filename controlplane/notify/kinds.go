// Package notify is the real-time side of notifications (docs/notifications.md): the kinds
// users can tune per channel, and a Hub that fans stored notifications out to the open pages
// of every control-plane replica through one Redis pub/sub channel.
//
// Records are stored by package store (money_notifications), which honours in-app
// preferences when inserting and hands each committed record to the Hub; the email outbox
// honours email preferences. So no caller can forget a preference.
package notify

// Notification kinds a user can tune. Emails that are not optional (verification, password
// reset, receipts) have no kind here and are always sent.
const (
	KindBooking       = "booking"
	KindCancellation  = "cancellation"
	KindWaitlistOffer = "waitlist_offer"
	KindClassStarting = "class_starting"
	KindRecording     = "recording_ready"
	KindRefund        = "refund"
	KindLowCredits    = "low_credits"
)

// Kind describes one tunable kind: its label and the channels it uses (some kinds have no
// email: their defaults and settings for that channel are ignored).
type Kind struct {
	Kind     string `json:"kind"`
	Label    string `json:"label"`
	HasEmail bool   `json:"has_email"`
}

// Kinds lists the tunable kinds in the order settings show them.
var Kinds = []Kind{
	{KindBooking, "Booking confirmed", true},
	{KindCancellation, "Booking or class cancelled", true},
	{KindWaitlistOffer, "A waitlisted seat is free", true},
	{KindClassStarting, "Class starting soon (reminders)", true},
	{KindRecording, "Recording ready", false},
	{KindRefund, "Credits refunded", true},
	{KindLowCredits, "Low credit balance", false},
}

// Known reports whether kind is tunable.
func Known(kind string) bool {
	for _, k := range Kinds {
		if k.Kind == kind {
			return true
		}
	}
	return false
}

// ForEmail maps an email kind (package email) to the notification kind whose email
// preference governs it; ok is false for emails that are always sent.
func ForEmail(emailKind string) (kind string, ok bool) {
	switch emailKind {
	case "booking_confirmation":
		return KindBooking, true
	case "cancellation":
		return KindCancellation, true
	case "waitlist_offer":
		return KindWaitlistOffer, true
	case "reminder":
		return KindClassStarting, true
	case "refund":
		return KindRefund, true
	}
	return "", false
}
