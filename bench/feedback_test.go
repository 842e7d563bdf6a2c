package bench

import (
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/bench/udpbase"
)

// rtpVP8 is an RTP packet with seq and a VP8 payload descriptor (PictureID, 15 bits)
// starting a keyframe or an interframe.
func rtpVP8(seq uint16, key bool) []byte {
	p := make([]byte, 12, 20)
	p[0] = 0x80
	p[2], p[3] = byte(seq>>8), byte(seq)
	vp8hdr := byte(0x01) // P=1: interframe
	if key {
		vp8hdr = 0x00
	}
	return append(p, 0x90, 0x80, 0x81, 0x23, vp8hdr, 0, 0)
}

func TestVP8Keyframe(t *testing.T) {
	if !vp8Keyframe(rtpVP8(1, true)) {
		t.Error("keyframe start not recognised")
	}
	if vp8Keyframe(rtpVP8(1, false)) {
		t.Error("interframe taken for a keyframe")
	}
	mid := rtpVP8(1, true)
	mid[12] &^= 0x10 // not the start of a partition
	if vp8Keyframe(mid) {
		t.Error("continuation packet taken for a keyframe start")
	}
	if vp8Keyframe(mid[:13]) {
		t.Error("truncated packet taken for a keyframe")
	}
}

func TestDecodeStatePLI(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	type step struct {
		seq  uint16
		key  bool
		ms   int
		want bool
	}
	cases := []struct {
		name  string
		steps []step
	}{
		{"keyframe first, no loss: never", []step{{1, true, 0, false}, {2, false, 10, false}, {3, false, 2000, false}}},
		{"interframe first: at once, then throttled until the keyframe", []step{
			{5, false, 0, true}, {6, false, 100, false}, {7, false, 350, true}, {8, true, 400, false}, {9, false, 2000, false}}},
		{"loss repaired in time: never", []step{
			{1, true, 0, false}, {3, false, 10, false}, {2, false, 200, false}, {4, false, 900, false}}},
		{"loss not repaired: once it is 500 ms old, then not again", []step{
			{1, true, 0, false}, {3, false, 10, false}, {4, false, 400, false}, {5, false, 510, true}, {6, false, 2000, false}}},
		{"sequence wrap is no loss", []step{{65535, true, 0, false}, {0, false, 10, false}, {1, false, 1000, false}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := &decodeState{vp8: true}
			for i, st := range c.steps {
				if got := s.observe(rtpVP8(st.seq, st.key), at(st.ms)); got != st.want {
					t.Errorf("step %d (seq %d at %d ms): PLI %v, want %v", i, st.seq, st.ms, got, st.want)
				}
			}
		})
	}
}

func TestParseFeedback(t *testing.T) {
	for in, want := range map[string]Feedback{"": FeedbackBrowser, "browser": FeedbackBrowser, "sdk": FeedbackSDK, "none": FeedbackNone} {
		if got, err := ParseFeedback(in); err != nil || got != want {
			t.Errorf("ParseFeedback(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := ParseFeedback("chrome"); err == nil {
		t.Error("unknown mode accepted")
	}
}

// The suite summary compares NAME-sdk/-none/-lean with NAME and states who bounded each run.
func TestFeedbackCostTable(t *testing.T) {
	mk := func(fwd float64, fb Feedback, lean, sat bool) *Result {
		return &Result{Feedback: fb, Lean: lean, Tester: TesterResult{Saturated: sat},
			ServerProcess: &ServerResult{ForwardedPerCPUSecond: fwd}}
	}
	s := &Suite{Runs: map[string]*Result{
		"lecture-100":      mk(40000, FeedbackBrowser, false, false),
		"lecture-100-none": mk(60000, FeedbackNone, false, false),
		"lecture-100-lean": mk(64000, FeedbackNone, true, false),
		"lecture-300":      mk(50000, FeedbackBrowser, false, true),
	}}
	var b strings.Builder
	if err := s.WriteMarkdown(&b); err != nil {
		t.Fatal(err)
	}
	md := b.String()
	for _, want := range []string{
		"| lecture-100-none | none | 60000 | 1.50x (lecture-100: 40000) |",
		"| lecture-100-lean | lean | 64000 | 1.60x (lecture-100: 40000) |",
		"| **tester** | browser |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}

// Issue 10's targets: efficiency of the browser-feedback lecture-100 against 80k and the raw
// limit, and the tester's headroom per lecture size (the cheapest run of each size counts).
func TestMediaPathTargets(t *testing.T) {
	mk := func(subs int, fwd float64, fb Feedback, lean bool, tester float64) *Result {
		return &Result{Subscribers: subs, Feedback: fb, Lean: lean, Tester: TesterResult{CPUPercent: tester},
			ServerProcess: &ServerResult{ForwardedPerCPUSecond: fwd}}
	}
	s := &Suite{Runs: map[string]*Result{
		"lecture-100":      mk(100, 90000, FeedbackBrowser, false, 40),
		"lecture-100-lean": mk(100, 99000, FeedbackNone, true, 12),
		"lecture-300":      mk(300, 40000, FeedbackBrowser, false, 95),
		"lecture-300-lean": mk(300, 97000, FeedbackNone, true, 39),
	}}
	got := map[string]TargetCheck{}
	for _, c := range s.mediaPathTargets(udpbase.Result{Mode: "batched", ForwardedPerCPUSecond: 300000}, true) {
		got[c.Name] = c
	}
	if c := got["fwd pkt per server CPU-s (issue 10)"]; !c.Met || c.Value != 90000 {
		t.Errorf("efficiency check %+v, want met at 90000 (the browser run, not the lean one)", c)
	}
	if c := got["share of raw UDP forwarding (issue 10)"]; c.Met || c.Value != 0.3 {
		t.Errorf("share check %+v, want 0.30 and not met", c)
	}
	c := got["tester headroom (issue 10)"]
	if c.Met || !strings.Contains(c.Measured, "lecture-300-lean 39%") || !strings.Contains(c.Measured, "600: not run") {
		t.Errorf("headroom check %+v, want lecture-300-lean counted and 600 missing", c)
	}
	s.Runs["lecture-600-lean"] = mk(600, 58000, FeedbackNone, true, 40)
	seen := false
	for _, c := range s.mediaPathTargets(udpbase.Result{}, false) {
		if c.Name == "tester headroom (issue 10)" {
			seen = true
			if !c.Met {
				t.Errorf("headroom with every size below 80%%: %+v, want met", c)
			}
		}
	}
	if !seen {
		t.Error("no headroom check")
	}
}
