package media

import (
	"testing"
	"time"

	"github.com/atrium-live/atrium/controlplane/store"
)

func TestWindow(t *testing.T) {
	start := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	early := 15 * time.Minute
	w := Window(start, 60, store.ClassScheduled, early)
	for _, tc := range []struct {
		now     time.Time
		open    bool
		opensIn time.Duration
	}{
		{start.Add(-24 * time.Hour), false, 24*time.Hour - early},
		{start.Add(-early - time.Second), false, time.Second},
		{start.Add(-early), true, 0},
		{start, true, 0},
		{start.Add(59 * time.Minute), true, 0},
		{start.Add(60 * time.Minute), false, 0},
		{start.Add(48 * time.Hour), false, 0},
	} {
		if got := w.Open(tc.now); got != tc.open {
			t.Errorf("Window(10:00, 60 min).Open(%v) = %v, want %v", tc.now, got, tc.open)
		}
		if got := w.OpensIn(tc.now); got != tc.opensIn {
			t.Errorf("Window(10:00, 60 min).OpensIn(%v) = %v, want %v", tc.now, got, tc.opensIn)
		}
	}
	if w.From != start.Add(-early) || w.Until != start.Add(time.Hour) {
		t.Errorf("Window(10:00, 60 min) = %v..%v, want 09:45..11:00", w.From, w.Until)
	}
	c := Window(start, 60, store.ClassCancelled, early)
	if !c.Never || c.Open(start) || c.OpensIn(start.Add(-time.Hour)) != 0 {
		t.Errorf("Window of a cancelled class = %+v, want never open", c)
	}
}
