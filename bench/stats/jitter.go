package stats

import "time"

// Jitter estimates interarrival jitter as RFC 3550 §6.4.1 defines it, but on the sender's
// wall-clock send time carried in each packet instead of the RTP timestamp, so packets of
// one video frame (same RTP timestamp, sent microseconds apart) do not read as jitter.
// The zero value is ready to use.
type Jitter struct {
	started     bool
	lastTransit time.Duration
	jitterNanos float64
}

// Push records a packet sent at sent and received at recv (both wall clock, same machine).
func (j *Jitter) Push(sent, recv time.Time) {
	transit := recv.Sub(sent)
	if !j.started {
		j.started = true
		j.lastTransit = transit
		return
	}
	d := transit - j.lastTransit
	j.lastTransit = transit
	if d < 0 {
		d = -d
	}
	// J(i) = J(i-1) + (|D(i-1,i)| - J(i-1))/16
	j.jitterNanos += (float64(d) - j.jitterNanos) / 16
}

// Value is the current jitter estimate.
func (j *Jitter) Value() time.Duration { return time.Duration(j.jitterNanos) }
