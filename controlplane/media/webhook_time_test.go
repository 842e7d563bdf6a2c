package media

import (
	"math"
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
)

func TestEventTime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		createdAt int64
		want      time.Time
		ok        bool
	}{
		{0, now, true},
		{now.Unix(), now, true},
		{now.Add(-time.Hour).Unix(), now.Add(-time.Hour), true},
		{now.Add(4 * time.Minute).Unix(), now.Add(4 * time.Minute), true},
		{now.Add(10 * time.Minute).Unix(), time.Time{}, false},
		{now.Add(72 * time.Hour).Unix(), time.Time{}, false},
		{now.Add(-30 * 24 * time.Hour).Unix(), time.Time{}, false},
		{math.MaxInt64, time.Time{}, false},
		{-5, time.Time{}, false},
		{math.MinInt64, time.Time{}, false},
	} {
		got, ok := eventTime(tc.createdAt, now)
		if ok != tc.ok || !got.Equal(tc.want) {
			t.Errorf("eventTime(%d) = %v, %v; want %v, %v", tc.createdAt, got, ok, tc.want, tc.ok)
		}
	}
}

func TestParticipantJoinedAt(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		p    *livekit.ParticipantInfo
		want time.Time
	}{
		{&livekit.ParticipantInfo{}, at},
		{&livekit.ParticipantInfo{JoinedAtMs: at.Add(-time.Minute).UnixMilli()}, at.Add(-time.Minute)},
		{&livekit.ParticipantInfo{JoinedAt: at.Add(-time.Minute).Unix()}, at.Add(-time.Minute)},
		{&livekit.ParticipantInfo{JoinedAtMs: at.Add(72 * time.Hour).UnixMilli()}, at},
		{&livekit.ParticipantInfo{JoinedAtMs: math.MaxInt64}, at},
		{&livekit.ParticipantInfo{JoinedAt: 1}, at},
	} {
		if got := participantJoinedAt(tc.p, at); !got.Equal(tc.want) {
			t.Errorf("participantJoinedAt(%v) = %v, want %v", tc.p, got, tc.want)
		}
	}
}
