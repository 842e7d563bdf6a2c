package udpbase

import (
	"context"
	"testing"
	"time"
)

func TestRunForwardsEveryPacket(t *testing.T) {
	for _, batched := range []bool{false, true} {
		res, err := Run(context.Background(), Params{Receivers: 4, Rate: 2000, Duration: 300 * time.Millisecond,
			Batched: batched})
		if err != nil {
			t.Fatalf("Run(batched=%v): %v", batched, err)
		}
		if res.PacketsIn < 400 {
			t.Errorf("%s: relay read %d packets, want about 600", res.Mode, res.PacketsIn)
		}
		if res.PacketsForwarded != res.PacketsIn*4 {
			t.Errorf("%s: forwarded %d, want 4 x %d", res.Mode, res.PacketsForwarded, res.PacketsIn)
		}
		if res.PacketsReceived != res.PacketsForwarded {
			t.Errorf("%s: receivers got %d of %d", res.Mode, res.PacketsReceived, res.PacketsForwarded)
		}
		if res.ForwardedPerCPUSecond <= 0 || res.RelayCPUSeconds <= 0 {
			t.Errorf("%s: no CPU figures: %+v", res.Mode, res)
		}
	}
}

func TestParamsRejected(t *testing.T) {
	bad := []Params{{Receivers: -1}, {Size: 9000}, {Rate: -5}, {Duration: time.Millisecond}}
	for _, p := range bad {
		if _, err := Run(context.Background(), p); err == nil {
			t.Errorf("Run(%+v) = nil error, want error", p)
		}
	}
}
