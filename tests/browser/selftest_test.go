package browser

import (
	"strings"
	"testing"
)

// TestChromiumSelfTest checks the browser set-up alone, without the SFU: livekit-client loads
// from the static server, the fake camera delivers 1280x720 (needed for three simulcast layers)
// and the fake microphone audio, and two peer connections in one page, restricted to loopback
// candidates, carry both and decode more than 30 frames. If this fails, the SFU tests' failures
// say nothing about the SFU.
func TestChromiumSelfTest(t *testing.T) {
	h := newHarness(t)
	var data struct {
		Self struct {
			Settings struct {
				Width     int     `json:"width"`
				Height    int     `json:"height"`
				FrameRate float64 `json:"frameRate"`
			} `json:"settings"`
			Stats      trackStats `json:"stats"`
			SDKVersion string     `json:"sdkVersion"`
			Net        struct {
				Kept    int `json:"kept"`
				Dropped int `json:"dropped"`
			} `json:"net"`
		} `json:"self"`
	}
	h.run(t, runConfig{Scenario: "selftest", Width: 1280, Height: 720, MinFrames: 30, WaitMs: 10_000, TimeoutMs: 30_000}, &data)

	s := data.Self
	if s.SDKVersion == "" {
		t.Errorf("livekit-client version is empty: the UMD build did not load")
	}
	if s.Settings.Width != 1280 || s.Settings.Height != 720 {
		t.Errorf("fake camera capture = %dx%d, want 1280x720", s.Settings.Width, s.Settings.Height)
	}
	var video, audio *rtpStats
	for i := range s.Stats.RTP {
		switch r := &s.Stats.RTP[i]; r.Kind {
		case "video":
			video = r
		case "audio":
			audio = r
		}
	}
	if video == nil || video.FramesDecoded <= 30 {
		t.Errorf("loopback video: %v, want framesDecoded > 30", video)
	}
	if video != nil && video.FrameWidth == 0 {
		t.Errorf("loopback video decoded with width 0: %v", video)
	}
	if audio == nil || audio.Packets <= 20 {
		t.Errorf("loopback audio: %v, want packets > 20", audio)
	}
	if s.Net.Kept == 0 {
		t.Errorf("no loopback ICE candidate was gathered (kept=0, dropped=%d): is --allow-loopback-in-peer-connection set?", s.Net.Dropped)
	}
	// The remote side is often peer-reflexive (its check arrives before its trickled candidate),
	// and Chromium hides a prflx address, so only the local end can be checked.
	if !isLoopbackAddr(s.Stats.LocalAddress) || s.Stats.LocalCandidateType != "host" {
		t.Errorf("selected pair local end = %s %s, want a loopback host candidate", s.Stats.LocalCandidateType, s.Stats.LocalAddress)
	}
	t.Logf("livekit-client %s; camera %dx%d@%.0f; decoded %v; candidates kept %d dropped %d; pair %s -> %s",
		s.SDKVersion, s.Settings.Width, s.Settings.Height, s.Settings.FrameRate, video, s.Net.Kept, s.Net.Dropped,
		s.Stats.LocalAddress, s.Stats.RemoteAddress)
}

// isLoopbackAddr reports whether an "address:port" from the stats is on 127.0.0.0/8 or ::1.
func isLoopbackAddr(hostPort string) bool {
	return strings.HasPrefix(hostPort, "127.") || strings.HasPrefix(hostPort, "::1:")
}
