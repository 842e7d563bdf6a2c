package booking

import (
	"reflect"
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/store"
)

func TestReminderWindows(t *testing.T) {
	h := time.Hour
	for _, tc := range []struct {
		in   []time.Duration
		want []store.ReminderWindow
	}{
		{nil, []store.ReminderWindow{}},
		{[]time.Duration{24 * h, h}, []store.ReminderWindow{{Offset: 24 * h, Next: h}, {Offset: h}}},
		{[]time.Duration{h, 24 * h, h}, []store.ReminderWindow{{Offset: 24 * h, Next: h}, {Offset: h}}},
		{[]time.Duration{15 * time.Minute}, []store.ReminderWindow{{Offset: 15 * time.Minute}}},
		{[]time.Duration{0, -h, 90*time.Second + 30*time.Second}, []store.ReminderWindow{{Offset: 2 * time.Minute}}},
	} {
		if got := reminderWindows(tc.in); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("reminderWindows(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestHumanOffset(t *testing.T) {
	for _, tc := range []struct {
		in   time.Duration
		want string
	}{
		{24 * time.Hour, "in 24 hours"}, {time.Hour, "in 1 hour"}, {90 * time.Minute, "in 90 minutes"},
		{time.Minute, "in 1 minute"}, {15 * time.Minute, "in 15 minutes"},
	} {
		if got := humanOffset(tc.in); got != tc.want {
			t.Errorf("humanOffset(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestCrossedLow(t *testing.T) {
	for _, tc := range []struct {
		before, after, threshold int64
		want                     bool
	}{
		{20, 5, 10, true}, {10, 9, 10, true}, {10, 10, 10, false}, {9, 5, 10, false}, {50, 20, 10, false},
		{20, 5, 0, false},
	} {
		if got := crossedLow(tc.before, tc.after, tc.threshold); got != tc.want {
			t.Errorf("crossedLow(%d, %d, %d) = %v, want %v", tc.before, tc.after, tc.threshold, got, tc.want)
		}
	}
}
