package sfu

import (
	"strings"
	"sync"
	"time"

	"github.com/livekit/protocol/livekit"

	"github.com/atrium-live/atrium/sfu/internal/media"
)

// dynacast tells the publisher of one video track which qualities its subscribers want
// (LiveKit's dynacast: subscribed_quality_update), so that an SDK with dynacast on stops
// encoding and sending layers nobody receives: every student set LOW, or disabled the
// track, or nobody subscribes.
//
// The policy is LiveKit's: the publisher is asked for every quality up to the highest one
// an enabled subscriber wants (lower layers stay on: they are cheap and are what a
// subscriber falls back to); a higher quality is asked for at once, and a keyframe is
// requested on each layer coming back; a lower one (down to none) only after
// Config.Room.DynacastPauseDelay, so a subscriber flipping quality does not make the
// publisher restart encoders. What a subscriber wants is its track setting
// (DownTrack.MaxLayer, Enabled), not the layer its bandwidth allows at the moment.
//
// Whether the publisher obeys is its choice: livekit-client ignores the update unless its
// room was created with dynacast: true; server-sdk-go applies it to its simulcast tracks.
// Subscribers never depend on it: a layer the publisher stops is replaced by the best
// one still arriving (media.Receiver).
//
// Publishers start with every layer on, so nothing is sent until the wish changes.
// Safe for concurrent use. Lock order: mu before the owner's sendMu and a DownTrack's
// lock; no pion call is made under mu.
type dynacast struct {
	t     *publishedTrack
	codec string        // the codec as SDKs name it in SubscribedCodec: "vp8", "h264"
	delay time.Duration // a lower wish waits this long

	mu        sync.Mutex
	committed int // highest layer the publisher is asked for, -1 for none
	timerGen  int // identifies the pending downgrade timer; bumped to cancel it
	pending   bool
	sent      bool // an update went out
	closed    bool
	resumedAt time.Time             // layers were last asked back
	seen      [media.MaxLayers]bool // the layer has received packets at some point
	active    [media.MaxLayers]bool // the layer was receiving at the last check
}

func newDynacast(t *publishedTrack, mimeType string, delay time.Duration) *dynacast {
	codec := strings.ToLower(mimeType)
	if i := strings.IndexByte(codec, '/'); i >= 0 {
		codec = codec[i+1:]
	}
	return &dynacast{t: t, codec: codec, delay: delay, committed: media.MaxLayers - 1}
}

// wanted is the highest layer an enabled subscriber asks for, -1 when none does.
func (d *dynacast) wanted() int {
	w := -1
	for _, dt := range d.t.recv.DownTracks() {
		if !dt.IsClosed() && dt.Enabled() {
			w = max(w, dt.MaxLayer())
		}
	}
	return min(w, media.MaxLayers-1)
}

// update re-evaluates the wish after a subscription or a track setting changed: a higher
// wish is sent at once, a lower one after the pause delay.
func (d *dynacast) update() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	var back []int
	switch w := d.wanted(); {
	case w > d.committed:
		d.cancelLocked()
		back = d.commitLocked(w)
	case w == d.committed:
		d.cancelLocked()
	case d.delay <= 0:
		back = d.commitLocked(w)
	case !d.pending:
		d.pending = true
		gen := d.timerGen
		time.AfterFunc(d.delay, func() { d.expire(gen) })
	}
	d.mu.Unlock()
	d.requestKeyframes(back)
}

// expire commits a lower wish once the pause delay has passed, unless it was cancelled.
func (d *dynacast) expire(gen int) {
	d.mu.Lock()
	if d.closed || !d.pending || gen != d.timerGen {
		d.mu.Unlock()
		return
	}
	d.pending = false
	d.timerGen++
	var back []int
	if w := d.wanted(); w != d.committed {
		back = d.commitLocked(w)
	}
	d.mu.Unlock()
	d.requestKeyframes(back)
}

func (d *dynacast) cancelLocked() {
	if d.pending {
		d.pending = false
		d.timerGen++
	}
}

// commitLocked records w as the publisher's target, tells it (unless it is muted: then
// unmuted resends) and returns the layers coming back, which need a keyframe.
func (d *dynacast) commitLocked(w int) (back []int) {
	prev := d.committed
	d.committed = w
	if !d.t.recv.Muted() {
		d.sendLocked()
	}
	for l := prev + 1; l <= w; l++ {
		back = append(back, l)
	}
	if len(back) > 0 {
		d.resumedAt = time.Now()
	}
	return back
}

// resumeGrace is how long after asking layers back their absence does not count as a
// paused stream: the publisher needs a signal round trip and an encoder restart.
const resumeGrace = 2 * time.Second

// resuming reports whether layers were asked back within resumeGrace.
func (d *dynacast) resuming() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return !d.resumedAt.IsZero() && time.Since(d.resumedAt) < resumeGrace
}

// sendLocked sends the committed wish as a SubscribedQualityUpdate: one entry per quality,
// in subscribed_qualities (older SDKs) and under the track's codec in subscribed_codecs.
// Only the codec actually received is listed: naming another one would make
// livekit-client start publishing it as a backup codec.
func (d *dynacast) sendLocked() {
	qs := make([]*livekit.SubscribedQuality, 0, media.MaxLayers)
	for l := 0; l < media.MaxLayers; l++ {
		qs = append(qs, &livekit.SubscribedQuality{Quality: layerQuality(l), Enabled: l <= d.committed})
	}
	d.sent = true
	d.t.owner.send(&livekit.SignalResponse{Message: &livekit.SignalResponse_SubscribedQualityUpdate{
		SubscribedQualityUpdate: &livekit.SubscribedQualityUpdate{
			TrackSid:            d.t.sid,
			SubscribedQualities: qs,
			SubscribedCodecs:    []*livekit.SubscribedCodec{{Codec: d.codec, Qualities: qs}},
		},
	}})
}

// resend repeats the committed wish: after an unmute (nothing is sent while muted, and an
// SDK may reset its encodings when it unmutes), as LiveKit does.
func (d *dynacast) resend() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.closed && !d.t.recv.Muted() && (d.sent || d.committed < media.MaxLayers-1) {
		d.sendLocked()
	}
}

// checkLayers is called periodically with the receiver's stats: a wanted layer that starts
// arriving again (the publisher re-enabled it) gets a keyframe request, so subscribers
// switch up without waiting for the publisher's next periodic keyframe.
func (d *dynacast) checkLayers(st *media.ReceiverStats) {
	d.mu.Lock()
	var back []int
	for i := range st.Layers {
		on := st.Layers[i].Active
		if on && !d.active[i] && d.seen[i] && i <= d.committed {
			back = append(back, i)
		}
		d.active[i] = on
		d.seen[i] = d.seen[i] || on
	}
	d.mu.Unlock()
	d.requestKeyframes(back)
}

func (d *dynacast) requestKeyframes(layers []int) {
	for _, l := range layers {
		d.t.recv.RequestKeyframe(l)
	}
}

// close stops pending downgrades; nothing is sent afterwards.
func (d *dynacast) close() {
	d.mu.Lock()
	d.closed = true
	d.cancelLocked()
	d.mu.Unlock()
}

// layerQuality maps a simulcast layer index to LiveKit's quality (the inverse of
// qualityLayer).
func layerQuality(l int) livekit.VideoQuality {
	switch l {
	case 0:
		return livekit.VideoQuality_LOW
	case 1:
		return livekit.VideoQuality_MEDIUM
	default:
		return livekit.VideoQuality_HIGH
	}
}
