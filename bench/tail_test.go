package bench

import (
	"testing"
	"time"
)

func TestTailCountsUndeliveredPackets(t *testing.T) {
	stop := time.Unix(1000, 0)
	before, after := stop.Add(-time.Second), stop.Add(time.Second)
	tests := []struct {
		name     string
		sent     uint32 // packets the stream sent; 0: unknown stream
		highest  uint32 // last sequence received
		closedAt time.Time
		dropped  time.Time
		want     uint64
	}{
		{"all delivered", 100, 99, time.Time{}, time.Time{}, 0},
		{"open track missing the last 9", 100, 90, time.Time{}, time.Time{}, 9},
		{"closed by teardown", 100, 90, after, time.Time{}, 9},
		{"unsubscribed before the end", 100, 90, before, time.Time{}, 0},
		{"subscriber dropped by the server", 100, 90, before, before, 9},
		{"unknown stream", 0, 90, time.Time{}, time.Time{}, 0},
	}
	for _, tc := range tests {
		r := &run{stopped: stop}
		if tc.sent > 0 {
			r.sent.set("TR_a", 1, tc.sent)
		}
		p := &participant{}
		if !tc.dropped.IsZero() {
			p.drop(tc.dropped, "test")
		}
		ts := &trackStats{sid: "TR_a", owner: p, closedAt: tc.closedAt}
		for s := uint32(10); s <= tc.highest; s++ {
			ts.loss.Push(1, s)
		}
		if got := r.tail(ts); got != tc.want {
			t.Errorf("%s: tail = %d, want %d", tc.name, got, tc.want)
		}
	}
}
