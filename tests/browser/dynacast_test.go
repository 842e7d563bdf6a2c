package browser

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/sfu"
	"github.com/atrium-live/atrium/sfu/sfutest"
)

// dynacastPauseDelay shortens room.dynacast_pause_delay (5 s by default) so the downgrade is
// seen within the test's budget, while staying long enough to tell "waited" from "at once".
const dynacastPauseDelay = 2 * time.Second

// Upper bounds, generous for a busy 2-core machine (the lower bound, the pause delay, is the
// contract). maxResume bounds dynacast's part of HIGH: A sending f again (upgrades go out at
// once). maxDecode bounds B decoding f: normally as fast, but when the machine is starved the
// subscriber's bandwidth estimate falls and the SFU's allocator raises B's layer one step per
// hold (4 s, doubling), which is the allocator's job, not dynacast's.
const (
	maxStop   = 10 * time.Second
	maxResume = 6 * time.Second
	maxDecode = 20 * time.Second
)

// TestDynacast: A publishes its camera in three simulcast layers with the room option
// dynacast: true; B subscribes. After B's setVideoQuality(LOW), the server's
// subscribed_quality_update makes A's livekit-client turn its h and f encodings off (no sooner
// than room.dynacast_pause_delay) and A's bytes on f stop growing; after HIGH, A turns f back on
// and B decodes the top layer within seconds. Then A mutes its camera and B's SDK reports the
// track's stream state paused, and active again after unmute, with frames decoded again.
func TestDynacast(t *testing.T) {
	h := newHarness(t)
	// The SFU's debug log (shown when the test fails, or with -v) carries the subscriber
	// allocator's decisions ("congestion: lowering layers"), which explain a slow HIGH.
	srv := startTarget(t,
		sfutest.WithConfig(func(c *sfu.Config) { c.Room.DynacastPauseDelay = dynacastPauseDelay }),
		sfutest.WithLogLevel(slog.LevelDebug))
	room := "browser-dynacast"
	var data dynacastData
	h.run(t, runConfig{
		Scenario:     "dynacast",
		SFUURL:       srv.url,
		Tokens:       map[string]string{"A": srv.token(t, room, "A"), "B": srv.token(t, room, "B")},
		WaitMs:       15_000,
		ResumeWaitMs: int(maxDecode / time.Millisecond),
		TimeoutMs:    100_000,
	}, &data)

	// With B subscribed (at HIGH, the default), A must send all three layers before LOW.
	t.Logf("A's layers before LOW (reached=%v): %s", data.Before.Reached, data.Before.Sample)
	if !data.Before.Reached {
		t.Fatalf("A never sent all three layers with B subscribed at HIGH: %s; over time: %s", data.Before.Sample, data.series())
	}
	var layers []string
	if _, _, ok := first(data.OutboundA, "video"); ok {
		for _, r := range data.OutboundA[0].RTP {
			if r.FramesEncoded > 0 {
				layers = append(layers, fmt.Sprintf("%s:%dx%d", r.RID, r.FrameWidth, r.FrameHeight))
			}
		}
	}
	t.Logf("A encodes layers %v", layers)
	if len(layers) < 3 {
		t.Fatalf("Chromium encodes %d simulcast layers (%v), want 3: the publisher side, not the SFU, is short", len(layers), layers)
	}

	lo, hi := data.Low, data.High
	t.Logf("LOW: A's f off %d ms after the request, f's bytes last grew at %d ms (reached=%v); B decodes width %d (bottom layer seen at %d ms); A then: %s",
		lo.InactiveMs, lo.BytesMs, lo.Reached, lo.Width, lo.DecodeMs, lo.Sample)
	t.Logf("HIGH: A's f on after %d ms, f's bytes grow after %d ms, B decodes width %d (> h %d) after %d ms (reached=%v); A then: %s",
		hi.InactiveMs, hi.BytesMs, hi.Width, hi.HWidth, hi.DecodeMs, hi.Reached, hi.Sample)
	t.Logf("A's encodings over time: %s", data.series())
	if lo.Tracks != 1 || hi.Tracks != 1 {
		t.Errorf("setVideoQuality applied to %d (LOW) and %d (HIGH) tracks, want 1", lo.Tracks, hi.Tracks)
	}
	switch {
	case !lo.Reached:
		t.Errorf("after B's setVideoQuality(LOW), A kept sending h or f: f turned off at %d ms (-1: never), f's bytes last grew %d ms after the request; last sample %s",
			lo.InactiveMs, lo.BytesMs, lo.Sample)
	case time.Duration(lo.InactiveMs)*time.Millisecond > maxStop:
		t.Errorf("A turned f off %d ms after B's LOW, want within %v", lo.InactiveMs, maxStop)
	case !srv.external && time.Duration(lo.InactiveMs)*time.Millisecond < dynacastPauseDelay:
		t.Errorf("A turned f off %d ms after B's LOW, before room.dynacast_pause_delay (%v): downgrades are not debounced", lo.InactiveMs, dynacastPauseDelay)
	}
	if hw := lo.Sample.Rids["h"].Width; lo.Reached && !(lo.Width > 0 && lo.Width < hw) {
		t.Errorf("at LOW B decodes width %d, want A's bottom layer (narrower than h, %d)", lo.Width, hw)
	}
	if !lo.Sample.Rids["q"].Active {
		t.Errorf("after LOW A turned off q too (%s): B's layer must stay on", lo.Sample)
	}
	switch {
	case !hi.Reached:
		t.Errorf("within %v of B's setVideoQuality(HIGH): A's f on at %d ms, growing at %d ms, B decodes the top layer at %d ms (-1: never); B width %d, A's h width %d; B's widths %v",
			maxDecode, hi.InactiveMs, hi.BytesMs, hi.DecodeMs, hi.Width, hi.HWidth, hi.Widths)
	case time.Duration(hi.BytesMs)*time.Millisecond > maxResume:
		t.Errorf("after HIGH A's f grew again after %d ms, want within %v", hi.BytesMs, maxResume)
	case time.Duration(hi.DecodeMs)*time.Millisecond > maxResume:
		t.Logf("slow: B decoded the top layer %d ms after HIGH (A sent it after %d ms); B's widths %v: see the allocator's lines in the SFU log",
			hi.DecodeMs, hi.BytesMs, hi.Widths)
	}

	// Stream state: paused on A's mute, active on unmute, and nothing paused before the mute
	// (quality changes must not make B's SDK think the track stopped).
	t.Logf("mute: B's state %q after %d ms (reached=%v); unmute: %q after %d ms (reached=%v), B's frames %d -> %d; events %v",
		data.Mute.State, data.Mute.Ms, data.Mute.Reached, data.Unmute.State, data.Unmute.Ms, data.Unmute.Reached,
		data.Unmute.FramesBefore, data.Unmute.FramesAfter, data.Streams.Events)
	if !data.Mute.IsMuted || data.Unmute.IsMuted {
		t.Errorf("A's camera publication muted=%v after mute and %v after unmute", data.Mute.IsMuted, data.Unmute.IsMuted)
	}
	if !data.Mute.Reached {
		t.Errorf("B's stream state for A's camera is %q %d ms after A muted it, want paused", data.Mute.State, data.Mute.Ms)
	}
	if !data.Unmute.Reached {
		t.Errorf("B's stream state for A's camera is %q %d ms after A unmuted it, want active", data.Unmute.State, data.Unmute.Ms)
	}
	if data.Unmute.FramesAfter <= data.Unmute.FramesBefore+10 {
		t.Errorf("B decoded %d -> %d frames after A unmuted, want more than 10 new", data.Unmute.FramesBefore, data.Unmute.FramesAfter)
	}
	for _, e := range data.Streams.Events {
		if e.State == "paused" && e.At >= data.FirstDecodeAt && e.At < data.Mute.At {
			t.Errorf("B's SDK saw %s's %s track paused at +%d ms (relative to LOW) before any mute; events %v",
				e.From, e.Kind, e.At-lo.At, data.Streams.Events)
		}
	}
}

// dynacastData is the dynacast scenario's result (scenarios/dynacast.js).
type dynacastData struct {
	OutboundA     []trackStats `json:"outboundA"`
	FirstDecodeAt int64        `json:"firstDecodeAt"` // epoch ms
	Before        struct {
		Reached bool         `json:"reached"`
		Sample  layersSample `json:"sample"`
	} `json:"before"`
	Low     dynacastPhase  `json:"low"`
	High    dynacastPhase  `json:"high"`
	Mute    streamStep     `json:"mute"`
	Unmute  streamStep     `json:"unmute"`
	Samples []layersSample `json:"samples"`
	Streams struct {
		Events []streamEvent `json:"events"`
	} `json:"streams"`
}

// dynacastPhase is one quality request's outcome; times are ms after the request (-1: never).
type dynacastPhase struct {
	At         int64        `json:"at"` // epoch ms of the request
	Tracks     int          `json:"tracks"`
	Reached    bool         `json:"reached"`
	InactiveMs int          `json:"inactiveMs"` // LOW: f off in A's sender; HIGH: f on again
	BytesMs    int          `json:"bytesMs"`    // LOW: f's bytes last grew; HIGH: first grew again
	DecodeMs   int          `json:"decodeMs"`   // LOW: B decodes narrower than h; HIGH: wider than h
	Width      int          `json:"width"`      // B's decoded width at the end of the phase
	HWidth     int          `json:"hWidth"`     // A's h layer width (HIGH)
	Widths     [][2]int     `json:"widths"`     // HIGH: B's decoded width over time, [ms, width]
	Sample     layersSample `json:"sample"`
}

// layersSample is A's sender encodings and outbound stats per rid at one moment.
type layersSample struct {
	At   int64 `json:"at"`
	Rids map[string]struct {
		Active bool  `json:"active"` // sender parameters
		Bytes  int64 `json:"bytes"`  // outbound-rtp bytesSent
		Width  int   `json:"width"`
		Grew   bool  `json:"grew"` // bytes grew since the previous sample
	} `json:"rids"`
}

func (s layersSample) String() string {
	var b strings.Builder
	for _, rid := range []string{"q", "h", "f"} {
		r, ok := s.Rids[rid]
		if !ok {
			fmt.Fprintf(&b, "%s:absent ", rid)
			continue
		}
		fmt.Fprintf(&b, "%s:active=%v,w=%d,bytes=%d,grew=%v ", rid, r.Active, r.Width, r.Bytes, r.Grew)
	}
	return strings.TrimSpace(b.String())
}

// series compresses A's samples into "ms:qhf" entries (upper case: encoding on; '+': bytes
// grew), relative to the LOW request.
func (d dynacastData) series() string {
	var b strings.Builder
	for _, s := range d.Samples {
		fmt.Fprintf(&b, "%+d:", s.At-d.Low.At)
		for _, rid := range []string{"q", "h", "f"} {
			r := s.Rids[rid]
			c := rid
			if r.Active {
				c = strings.ToUpper(rid)
			}
			if r.Grew {
				c += "+"
			}
			b.WriteString(c)
		}
		b.WriteByte(' ')
	}
	return b.String()
}

// streamStep is A muting or unmuting its camera and what B's SDK reported.
type streamStep struct {
	At           int64  `json:"at"`
	IsMuted      bool   `json:"isMuted"`
	Reached      bool   `json:"reached"`
	Ms           int    `json:"ms"`
	State        string `json:"state"`
	FramesBefore int    `json:"framesBefore"`
	FramesAfter  int    `json:"framesAfter"`
}

// streamEvent is one TrackStreamStateChanged event on B.
type streamEvent struct {
	From  string `json:"from"`
	Kind  string `json:"kind"`
	State string `json:"state"`
	At    int64  `json:"at"` // epoch ms
}
