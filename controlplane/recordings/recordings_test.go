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
