package recorder

import (
	"testing"
	"time"
)

// The munger turns a speaker, silence and another speaker into one stream whose sequence
// numbers step by one and whose timestamps step by at least a frame, never backwards.
func TestAudioMunger(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type step struct {
		real    bool
		at      time.Duration
		ssrc    uint32
		ts      uint32
		ok      bool
		wantTS  uint32
		wantSeq uint16
	}
	steps := []step{
		{real: false, at: 0, ok: true, wantTS: 0, wantSeq: 1},                       // silence first
		{real: false, at: 20 * time.Millisecond, ok: true, wantTS: 960, wantSeq: 2}, // still quiet
		{real: true, at: 30 * time.Millisecond, ssrc: 7, ts: 5000, ok: true, wantTS: 1920, wantSeq: 3},
		{real: false, at: 40 * time.Millisecond, ok: false}, // speaker active
		{real: true, at: 50 * time.Millisecond, ssrc: 7, ts: 5960, ok: true, wantTS: 2880, wantSeq: 4},
		{real: true, at: 55 * time.Millisecond, ssrc: 7, ts: 5000, ok: false},         // old packet dropped
		{real: false, at: 200 * time.Millisecond, ok: true, wantTS: 3840, wantSeq: 5}, // DTX gap filled
		{real: true, at: 210 * time.Millisecond, ssrc: 7, ts: 99000, ok: true, wantTS: 4800, wantSeq: 6},
		{real: true, at: 220 * time.Millisecond, ssrc: 9, ts: 10, ok: true, wantTS: 5760, wantSeq: 7}, // new speaker
		{real: true, at: 240 * time.Millisecond, ssrc: 9, ts: 970, ok: true, wantTS: 6720, wantSeq: 8},
	}
	var m audioMunger
	for i, s := range steps {
		var seq uint16
		var ts uint32
		var ok bool
		if s.real {
			seq, ts, ok = m.real(t0.Add(s.at), s.ssrc, s.ts)
		} else {
			seq, ts, ok = m.silence(t0.Add(s.at))
		}
		if ok != s.ok || ok && (seq != s.wantSeq || ts != s.wantTS) {
			t.Errorf("step %d: got seq %d ts %d ok %v; want seq %d ts %d ok %v", i, seq, ts, ok, s.wantSeq, s.wantTS, s.ok)
		}
	}
}
