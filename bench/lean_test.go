package bench

import (
	"context"
	"testing"
	"time"

	"github.com/atrium-live/atrium/bench/synth"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// TestLeanSubscribers: lean subscribers (no PeerConnection) join a real in-process SFU
// through ICE, DTLS and SRTP, receive audio and the simulcast video they asked for without
// loss, and leave nothing running.
func TestLeanSubscribers(t *testing.T) {
	for _, own := range []bool{false, true} {
		name := "shared socket"
		if own {
			name = "a socket each"
		}
		t.Run(name, func(t *testing.T) { testLeanSubscribers(t, own) })
	}
}

func testLeanSubscribers(t *testing.T, ownSockets bool) {
	srv := sfutest.Serve(t)
	scn, err := Preset("lecture", PresetParams{Subscribers: 4})
	if err != nil {
		t.Fatal(err)
	}
	scn.Duration = 4 * time.Second
	scn.Video.Simulcast = true
	res, err := Run(context.Background(), Options{Scenario: scn, Lean: true, leanOwnSockets: ownSockets,
		Target: Target{URL: srv.URL(), APIKey: srv.APIKey(), APISecret: srv.APISecret()}})
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !res.Lean || res.Feedback != FeedbackNone {
		t.Errorf("result lean %v feedback %q, want lean with no feedback", res.Lean, res.Feedback)
	}
	if res.Joins.OK != 5 || res.Joins.Failed != 0 {
		t.Errorf("joins ok/failed = %d/%d, want 5/0", res.Joins.OK, res.Joins.Failed)
	}
	if res.Audio.Tracks != 4 || res.Video.Tracks != 4 {
		t.Errorf("subscribed tracks audio/video = %d/%d, want 4/4", res.Audio.Tracks, res.Video.Tracks)
	}
	if res.Audio.ReceivedPackets == 0 || res.Video.ReceivedPackets == 0 {
		t.Fatalf("received audio/video packets = %d/%d, want both > 0", res.Audio.ReceivedPackets, res.Video.ReceivedPackets)
	}
	if res.LossPercent >= 2 {
		t.Errorf("loss %.3f%%, want < 2%%", res.LossPercent)
	}
	if j := res.Joins.WSToFirstMediaMs; j.N != 4 {
		t.Errorf("ws->first media samples %d, want 4", j.N)
	}
	// 4 students on the top layer of 1.5 Mb/s: each well above the middle layer's rate.
	if perStudent := float64(res.Video.ReceivedBytes*8) / res.DurationS / 4; perStudent < 700_000 {
		t.Errorf("video per student %.0f b/s, want the top layer", perStudent)
	}
}

// Recording a received packet allocates nothing (a lean tester receives for hundreds).
func TestRecordAllocatesNothing(t *testing.T) {
	p := &participant{}
	ts := &trackStats{kind: kindVideo, owner: p}
	var c counters
	pkt := make([]byte, 12, 200)
	pkt[0] = 0x80
	pkt = append(pkt, make([]byte, 100)...)
	now := time.Now()
	seq := uint32(0)
	if n := testing.AllocsPerRun(100, func() {
		seq++
		synth.PutStamp(pkt[12:], synth.Stamp{Seq: seq, Sent: now.Add(-time.Millisecond)})
		ts.record(pkt, now, &c)
	}); n != 0 {
		t.Errorf("record allocates %.1f times per packet, want 0", n)
	}
	if _, r := ts.loss.Totals(); r == 0 || ts.unstamped != 0 {
		t.Errorf("received %d stamped, %d unstamped: the test packets were not recorded as media", r, ts.unstamped)
	}
	if p.firstMedia.Load() == 0 {
		t.Error("first media not recorded")
	}
}
