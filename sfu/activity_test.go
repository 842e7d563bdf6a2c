package sfu

import (
	"testing"
	"time"

	"github.com/livekit/protocol/livekit"
)

// TestQualityScore pins the thresholds SDK quality indicators depend on.
func TestQualityScore(t *testing.T) {
	tests := []struct {
		loss   float64
		rtt    time.Duration
		jitter float64
		want   livekit.ConnectionQuality
	}{
		{0, 0, 0, livekit.ConnectionQuality_EXCELLENT},
		{0.01, 50 * time.Millisecond, 5, livekit.ConnectionQuality_EXCELLENT},
		{0.06, 100 * time.Millisecond, 0, livekit.ConnectionQuality_GOOD},
		{0.20, 100 * time.Millisecond, 0, livekit.ConnectionQuality_POOR},
		{0, 2 * time.Second, 0, livekit.ConnectionQuality_POOR},
	}
	for _, tc := range tests {
		score := qualityScore(tc.loss, tc.rtt, tc.jitter)
		if got := qualityOf(score); got != tc.want {
			t.Errorf("qualityOf(qualityScore(%.2f, %s, %.0f)) = %s (score %.2f), want %s", tc.loss, tc.rtt, tc.jitter, got, score, tc.want)
		}
	}
}

func TestMaxLayerFor(t *testing.T) {
	info := &livekit.TrackInfo{Layers: []*livekit.VideoLayer{
		{Quality: livekit.VideoQuality_LOW, Width: 160, Height: 120},
		{Quality: livekit.VideoQuality_MEDIUM, Width: 320, Height: 240},
		{Quality: livekit.VideoQuality_HIGH, Width: 640, Height: 480},
	}}
	tests := []struct {
		s    *livekit.UpdateTrackSettings
		want int
	}{
		{&livekit.UpdateTrackSettings{Quality: livekit.VideoQuality_LOW}, 0},
		{&livekit.UpdateTrackSettings{Quality: livekit.VideoQuality_MEDIUM}, 1},
		{&livekit.UpdateTrackSettings{Quality: livekit.VideoQuality_HIGH}, 2},
		{&livekit.UpdateTrackSettings{Width: 100, Height: 80}, 0},
		{&livekit.UpdateTrackSettings{Width: 300, Height: 200}, 1},
		{&livekit.UpdateTrackSettings{Width: 1280, Height: 720}, 2},
	}
	for _, tc := range tests {
		if got := maxLayerFor(info, tc.s); got != tc.want {
			t.Errorf("maxLayerFor(%v) = %d, want %d", tc.s, got, tc.want)
		}
	}
}
