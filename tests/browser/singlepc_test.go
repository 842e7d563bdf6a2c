package browser

import (
	"slices"
	"strings"
	"testing"

	sfuconf "github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// singlePCJoins is how many times B joins in TestSinglePeerConnection (the first-frame
// figure is their median).
const singlePCJoins = 10

// TestSinglePeerConnection is issue 16's browser acceptance for the single-PeerConnection
// path: livekit-client with default options connects over /rtc/v1 (no 404 and no fallback to
// /rtc in its log, one RTCPeerConnection per join, protocol 16 reported), B decodes A's
// camera on every one of its joins, data goes both ways, and after B's signal connection is
// dropped the SDK resumes the session and video and data keep flowing. It prints the median
// time from connect() resolving to B's first decoded frame (a figure, not an assertion:
// timing on a shared machine is not a test verdict; see bench/results).
func TestSinglePeerConnection(t *testing.T) {
	h := newHarness(t)
	sfu := startTarget(t, sfutest.WithConfig(func(c *sfuconf.Config) { c.Signal.SinglePC = true }))
	room := "browser-singlepc"
	var data struct {
		ConnectA connectInfo `json:"connectA"`
		ConnectB connectInfo `json:"connectB"`
		Joins    []struct {
			ConnectMs    float64 `json:"connectMs"`
			FirstFrameMs float64 `json:"firstFrameMs"`
		} `json:"joins"`
		DataBefore   bool     `json:"dataBefore"`
		Resumed      bool     `json:"resumed"`
		FramesBefore int      `json:"framesBefore"`
		FramesAfter  int      `json:"framesAfter"`
		DataAfter    bool     `json:"dataAfter"`
		NetA         netStats `json:"netA"`
		NetB         netStats `json:"netB"`
		LogsB        []string `json:"logsB"`
	}
	h.run(t, runConfig{
		Scenario:  "singlepc",
		SFUURL:    sfu.url,
		Tokens:    map[string]string{"A": sfu.token(t, room, "A"), "B": sfu.token(t, room, "B")},
		Joins:     singlePCJoins,
		WaitMs:    20_000,
		TimeoutMs: 300_000,
	}, &data)

	for _, l := range data.LogsB {
		t.Logf("B: %s", l)
	}
	for _, c := range []connectInfo{data.ConnectA, data.ConnectB} {
		if c.ServerInfo == nil || c.ServerInfo.Protocol != 16 {
			t.Errorf("server info %+v, want protocol 16 (single PeerConnection)", c.ServerInfo)
		}
	}
	connecting := 0
	for _, l := range data.LogsB {
		switch {
		case strings.Contains(l, "signal connecting to"):
			connecting++
			if !strings.Contains(l, "/rtc/v1?") {
				t.Errorf("B connected on another path than /rtc/v1: %s", l)
			}
		case strings.Contains(l, "v1 RTC path not found"), strings.Contains(l, "Initial connection failed"):
			// livekit-client's words when /rtc/v1/validate answered 404 and it falls back to /rtc.
			t.Errorf("B fell back from /rtc/v1: %s", l)
		}
	}
	if connecting < singlePCJoins {
		t.Errorf("B's log shows %d signal connections, want at least %d (one per join)", connecting, singlePCJoins)
	}
	if data.NetA.PeerConnections != 1 {
		t.Errorf("A made %d RTCPeerConnections, want 1", data.NetA.PeerConnections)
	}
	if data.NetB.PeerConnections != singlePCJoins {
		t.Errorf("B made %d RTCPeerConnections in %d joins, want one per join", data.NetB.PeerConnections, singlePCJoins)
	}

	var connects, firsts, totals []float64
	for i, j := range data.Joins {
		if j.FirstFrameMs < 0 {
			t.Fatalf("join %d: B decoded no frame of A's camera", i+1)
		}
		connects = append(connects, j.ConnectMs)
		firsts = append(firsts, j.FirstFrameMs)
		totals = append(totals, j.ConnectMs+j.FirstFrameMs)
	}
	if len(firsts) != singlePCJoins {
		t.Fatalf("B joined %d times, want %d", len(firsts), singlePCJoins)
	}
	for _, f := range []struct {
		what string
		ms   []float64
	}{
		{"connect() (start -> resolved)", connects},
		{"connect -> first decoded frame", firsts},
		{"connect() start -> first decoded frame", totals},
	} {
		slices.Sort(f.ms)
		t.Logf("%s over %d joins: p50 %.0f ms, min %.0f ms, max %.0f ms", f.what, len(f.ms), f.ms[len(f.ms)/2], f.ms[0], f.ms[len(f.ms)-1])
	}

	if !data.DataBefore {
		t.Error("data did not go both ways before the resume")
	}
	if !data.Resumed {
		t.Fatal("B did not resume after its signal connection dropped")
	}
	if data.FramesAfter <= data.FramesBefore+20 {
		t.Errorf("B decoded %d frames before the resume and %d after, want more than 20 new", data.FramesBefore, data.FramesAfter)
	}
	if !data.DataAfter {
		t.Error("data did not go both ways after the resume")
	}
}

// netStats is what the page's net() returns (pages/harness-net.js).
type netStats struct {
	Dropped         int `json:"dropped"`
	Kept            int `json:"kept"`
	PeerConnections int `json:"peerConnections"`
}
