package bench

import (
	"fmt"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"

	"github.com/atrium-live/atrium/bench/procstat"
	"github.com/atrium-live/atrium/bench/stats"
)

// progress prints a live line every ProgressInterval until the returned stop is called:
// participants joined / connected / failed, packets per second each way, loss so far, and
// server and tester CPU.
func (r *run) progress(server, tester *procstat.Sampler) (stop func()) {
	if r.opts.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(r.opts.ProgressInterval)
		defer t.Stop()
		prev := r.snapshot(server, tester)
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			cur := r.snapshot(server, tester)
			r.printProgress(prev, cur)
			prev = cur
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

func (r *run) printProgress(prev, cur *snapshot) {
	dt := cur.at.Sub(prev.at).Seconds()
	var tx, rx uint64
	for k := range 2 {
		tx += cur.sentPkts[k] - prev.sentPkts[k]
		rx += cur.recvPkts[k] - prev.recvPkts[k]
	}
	r.mu.Lock()
	rooms := append([]*lksdk.Room(nil), r.rooms...)
	tracks := append([]*trackStats(nil), r.tracks...)
	r.mu.Unlock()
	connected := 0
	for _, room := range rooms {
		if room.ConnectionState() == lksdk.ConnectionStateConnected {
			connected++
		}
	}
	var exp, rec uint64
	for _, ts := range tracks {
		ts.mu.Lock()
		e, rc := ts.loss.Totals()
		ts.mu.Unlock()
		exp += e
		rec += rc
	}
	line := fmt.Sprintf("[%4.0fs] joined %d/%d connected %d failed %d | tx %s pkt/s rx %s pkt/s | loss %.3f%%",
		cur.at.Sub(r.start).Seconds(), r.joinedOK.Load(), len(r.parts), connected, r.joinFailed.Load(),
		si(float64(tx)/dt), si(float64(rx)/dt), stats.LossPercent(exp, rec))
	if cur.hasServer {
		line += fmt.Sprintf(" | server %.0f%% %s", 100*(cur.server.CPU-prev.server.CPU).Seconds()/dt,
			bytesIEC(cur.server.PeakRSS))
	}
	line += fmt.Sprintf(" | tester %.0f%%", 100*(cur.tester.CPU-prev.tester.CPU).Seconds()/dt)
	fmt.Fprintln(r.opts.Progress, line)
}

// si formats v with a k/M suffix.
func si(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	default:
		return fmt.Sprintf("%.0f", v)
	}
}

// bytesIEC formats a byte count in MiB or KiB.
func bytesIEC(b int64) string {
	if b >= 1<<20 {
		return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20))
	}
	return fmt.Sprintf("%.1fKiB", float64(b)/(1<<10))
}
