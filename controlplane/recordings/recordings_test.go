package recordings

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/controlplane/store"
)

func TestFileNames(t *testing.T) {
	for _, tc := range []struct {
		name string
		ok   bool
	}{
		{"index.m3u8", true}, {"init_0.mp4", true}, {"seg_123.m4s", true}, {"live-1.m3u8", true},
		{"../index.m3u8", false}, {".hidden.m3u8", false}, {"a/b.m4s", false}, {"seg.ts", false},
		{"index.m3u8.bak", false}, {"", false}, {"%2e%2e.m3u8", false},
	} {
		if got := fileRE.MatchString(tc.name); got != tc.ok {
			t.Errorf("fileRE.MatchString(%q) = %v, want %v", tc.name, got, tc.ok)
		}
	}
}

func TestContentType(t *testing.T) {
	for file, want := range map[string]string{"index.m3u8": "application/vnd.apple.mpegurl",
		"seg_1.m4s": "video/iso.segment", "init_0.mp4": "video/mp4"} {
		if got := contentType(file); got != want {
			t.Errorf("contentType(%q) = %q, want %q", file, got, want)
		}
	}
}

func TestUpdateFrom(t *testing.T) {
	start, end := time.Unix(1_800_000_000, 0), time.Unix(1_800_000_600, 0)
	for _, tc := range []struct {
		status livekit.EgressStatus
		want   string
	}{
		{livekit.EgressStatus_EGRESS_STARTING, store.RecordingStarting},
		{livekit.EgressStatus_EGRESS_ACTIVE, store.RecordingActive},
		{livekit.EgressStatus_EGRESS_ENDING, store.RecordingEnding},
		{livekit.EgressStatus_EGRESS_COMPLETE, store.RecordingComplete},
		{livekit.EgressStatus_EGRESS_FAILED, store.RecordingFailed},
		{livekit.EgressStatus_EGRESS_ABORTED, store.RecordingFailed},
	} {
		info := &livekit.EgressInfo{EgressId: "EG_x", Status: tc.status, StartedAt: start.UnixNano(), EndedAt: end.UnixNano(),
			Details: "1 gap(s)", SegmentResults: []*livekit.SegmentsInfo{{PlaylistName: "classes/c/r/index.m3u8",
				Duration: int64(600 * time.Second), Size: 12345}}}
		u := updateFrom(info, "c")
		if u.State != tc.want || u.PlaylistKey != "classes/c/r/index.m3u8" || u.DurationSeconds != 600 || u.SizeBytes != 12345 ||
			!u.StartedAt.Equal(start) || !u.EndedAt.Equal(end) || u.Details != "1 gap(s)" || u.ClassID != "c" {
			t.Errorf("updateFrom(status %v) = %+v", tc.status, u)
		}
	}
	if u := updateFrom(&livekit.EgressInfo{EgressId: "EG_y", Status: livekit.EgressStatus_EGRESS_STARTING}, "c"); u.StartedAt != nil || u.EndedAt != nil {
		t.Errorf("times without a start: %+v", u)
	}
}

// TestAccessFor is the rule of who watches what: the teacher, admins and booked students
// everything; a student still queued for the full class the running recording, live; a
// student who left the queue or let a seat pass before the start, nobody else, and nothing
// of a cancelled class, nothing.
func TestAccessFor(t *testing.T) {
	start := time.Date(2026, 12, 7, 15, 0, 0, 0, time.UTC)
	class := store.Class{ID: "c", Status: store.ClassScheduled, StartsAt: start}
	cancelled := class
	cancelled.Status = store.ClassCancelled
	entry := func(status string, offerEnds time.Time) *store.WaitlistEntry {
		w := &store.WaitlistEntry{Status: status}
		if !offerEnds.IsZero() {
			w.OfferExpiresAt = &offerEnds
		}
		return w
	}
	for _, c := range []struct {
		name  string
		v     viewer
		class store.Class
		want  Access
	}{
		{"teacher or admin", viewer{manager: true}, class, AccessAll},
		{"booked student", viewer{booked: true}, class, AccessAll},
		{"booked student who had queued", viewer{booked: true, wait: entry(store.WaitBooked, time.Time{})}, class, AccessAll},
		{"student without booking or queue", viewer{}, class, AccessNone},
		{"waiting", viewer{wait: entry(store.WaitWaiting, time.Time{})}, class, AccessLive},
		{"holding an offer", viewer{wait: entry(store.WaitOffered, start)}, class, AccessLive},
		{"queue closed when the class settled", viewer{wait: entry(store.WaitClosed, time.Time{})}, class, AccessLive},
		{"offer lapsed at the start", viewer{wait: entry(store.WaitExpired, start)}, class, AccessLive},
		{"offer let pass before the start", viewer{wait: entry(store.WaitExpired, start.Add(-time.Hour))}, class, AccessNone},
		{"expired without an offer time", viewer{wait: entry(store.WaitExpired, time.Time{})}, class, AccessNone},
		{"left the queue", viewer{wait: entry(store.WaitLeft, time.Time{})}, class, AccessNone},
		{"booked through the queue, then cancelled", viewer{wait: entry(store.WaitBooked, time.Time{})}, class, AccessNone},
		{"waiting, class cancelled", viewer{wait: entry(store.WaitWaiting, time.Time{})}, cancelled, AccessNone},
		{"booked, class cancelled", viewer{booked: true}, cancelled, AccessAll},
	} {
		if got := accessFor(c.v, c.class); got != c.want {
			t.Errorf("accessFor(%s) = %d, want %d", c.name, got, c.want)
		}
	}
	running := store.Recording{State: store.RecordingActive}
	for _, c := range []struct {
		a     Access
		state string
		want  bool
	}{
		{AccessAll, store.RecordingActive, true}, {AccessAll, store.RecordingComplete, true},
		{AccessLive, store.RecordingStarting, true}, {AccessLive, store.RecordingActive, true},
		{AccessLive, store.RecordingEnding, true}, {AccessLive, store.RecordingComplete, false},
		{AccessLive, store.RecordingFailed, false}, {AccessNone, store.RecordingActive, false},
	} {
		r := running
		r.State = c.state
		if got := c.a.mayOpen(r); got != c.want {
			t.Errorf("Access(%d).mayOpen(%s) = %v, want %v", c.a, c.state, got, c.want)
		}
	}
}
