package turn_test

import (
	"testing"
	"time"

	"github.com/atrium-live/atrium/turn"
	"github.com/atrium-live/atrium/turn/turntest"
)

// An allocation sending 4x its bandwidth cap for one second gets about the cap through (plus
// the burst); the excess is dropped and counted. Without a cap everything passes.
func TestBandwidthLimit(t *testing.T) {
	const (
		limit   = 50_000 // bytes/s
		burst   = 5_000
		size    = 1000
		rate    = 200 // packets/s offered: 200 KB/s, 4x the cap
		seconds = 1.0
	)
	for _, tc := range []struct {
		name   string
		capped bool
	}{{"capped", true}, {"uncapped", false}} {
		t.Run(tc.name, func(t *testing.T) {
			relay := turntest.Serve(t, turntest.Options{Configure: func(c *turn.Config) {
				if tc.capped {
					c.Quota.BandwidthPerAllocation = limit
					c.Quota.BandwidthBurst = burst
				}
			}})
			rc := allocate(t, clientFor(t, relay, "udp", "bw"))
			peer := newPeer(t)
			// The first datagram creates the permission; wait until it arrived.
			if _, err := rc.WriteTo(make([]byte, 10), peer.LocalAddr()); err != nil {
				t.Fatal(err)
			}
			readWithin(t, peer, 5*time.Second)

			received := make(chan int, 1)
			go func() {
				total := 0
				buf := make([]byte, 2000)
				for {
					_ = peer.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
					n, _, err := peer.ReadFrom(buf)
					if err != nil {
						received <- total
						return
					}
					total += n
				}
			}()
			payload := make([]byte, size)
			start := time.Now()
			sent := 0
			for i := 0; i < int(rate*seconds); i++ {
				// Pace against the wall clock so the offered rate is what it says.
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
				if _, err := rc.WriteTo(payload, peer.LocalAddr()); err != nil {
					t.Fatalf("WriteTo: %v", err)
				}
				sent += size
			}
			elapsed := time.Since(start).Seconds()
			got := <-received
			dropped := metricValue(t, relay.Server.Registry(), "atrium_turn_dropped_packets_total", map[string]string{"reason": "bandwidth"})
			t.Logf("%s: offered %d bytes in %.2fs, peer received %d, dropped %v packets", tc.name, sent, elapsed, got, dropped)
			if !tc.capped {
				if got < sent*9/10 || dropped != 0 {
					t.Fatalf("uncapped: received %d of %d bytes, dropped %v; want (nearly) all and none dropped", got, sent, dropped)
				}
				return
			}
			maxAllowed := int(limit*elapsed) + burst + 10 // +10: the permission probe
			if got > maxAllowed {
				t.Fatalf("capped: peer received %d bytes in %.2fs, more than cap*t+burst = %d", got, elapsed, maxAllowed)
			}
			if got < int(limit*elapsed)/2 {
				t.Fatalf("capped: peer received only %d bytes in %.2fs; the cap (%d B/s) should let about %d through", got, elapsed, limit, int(limit*elapsed))
			}
			if dropped < float64(sent-maxAllowed)/size {
				t.Fatalf("dropped_packets_total = %v, want >= %d", dropped, (sent-maxAllowed)/size)
			}
		})
	}
}
