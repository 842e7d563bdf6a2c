package media

import (
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// Send history: one word per transport-wide sequence number, indexed by the
// number modulo its size. 2048 entries cover more than a second at the
// packet rate of a subscriber receiving a 10x10 meeting, far longer than a
// feedback round trip.
const (
	twccHistory = 2048
	twccMask    = twccHistory - 1

	// A history word packs seq (16 bits), size (11 bits, capped), the
	// abs-send-time of the packet (24 bits) and two flags.
	twccSizeShift = 16
	twccSizeMax   = 1<<11 - 1
	twccAbsShift  = 27
	twccLostFlag  = 1 << 62 // reported lost once
	twccAckedFlag = 1 << 63 // reported received
)

// twccHistoryRing records what was sent with each transport-wide sequence
// number. Writers (any goroutine writing to the PeerConnection) each own the
// slot of the number they drew; the feedback reader only reads words and
// marks them with CompareAndSwap, so the send path takes no lock.
type twccHistoryRing struct {
	next  atomic.Uint32
	words [twccHistory]atomic.Uint64
	ext   [twccHistory][2]byte // the header extension payload of each slot, alive while the packet is written
}

// Estimator is the SFU's send-side bandwidth estimator for one subscriber
// PeerConnection. On the send path it stamps each outgoing packet with a
// transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-
// extensions-01 §2) and records its size and send time in a preallocated
// ring, without allocating or locking; on transport-cc feedback it computes
// the delivered rate, loss and queueing delay trend (bweState) and reports
// the estimate. It implements cc.BandwidthEstimator so the session layer can
// wire it to an Allocator with OnTargetBitrateChange; unlike pion's gcc it
// neither allocates per packet nor parses feedback into objects.
//
// The send time of a packet is its abs-send-time header extension when the
// stream carries one (set once per fan-out by the DownTrack, so no clock is
// read per subscriber), else the clock at write time.
type Estimator struct {
	hist atomic.Pointer[twccHistoryRing] // nil until a stream with transport-cc is bound

	mu       sync.Mutex // feedback processing and the fields below
	state    *bweState
	acks     []twccAck
	samples  []bweSample
	sendAbs  uint32 // last abs-send-time unwrapped, 24 bits
	sendTick int64  // unwrapped abs-send-time in 2^-18 s ticks
	sendInit bool
	onChange func(int)
	reported int

	target   atomic.Int64
	feedback atomic.Uint64 // feedback packets processed
	closed   atomic.Bool
}

// NewEstimator returns an Estimator starting at 1 Mbit/s, bounded to
// 100 kbit/s..20 Mbit/s.
func NewEstimator() *Estimator {
	// The send history and feedback scratch are allocated with the first
	// outgoing stream: publisher PeerConnections never need them.
	e := &Estimator{state: newBWEState(bweParams{})}
	e.target.Store(int64(e.state.estimate))
	e.reported = e.state.estimate
	return e
}

var _ cc.BandwidthEstimator = (*Estimator)(nil)

// AddStream returns the writer for one outgoing stream: it adds the
// transport-wide sequence number (when the stream negotiated transport-cc)
// and records the packet before passing it on.
func (e *Estimator) AddStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	var twccID, absID uint8
	for _, x := range info.RTPHeaderExtensions {
		if x.ID <= 0 || x.ID > 255 {
			continue
		}
		switch x.URI {
		case sdp.TransportCCURI:
			twccID = uint8(x.ID)
		case sdp.ABSSendTimeURI:
			absID = uint8(x.ID)
		}
	}
	if twccID == 0 {
		return w
	}
	h := e.hist.Load()
	if h == nil {
		e.mu.Lock()
		if h = e.hist.Load(); h == nil {
			h = new(twccHistoryRing)
			e.acks = make([]twccAck, 0, 256)
			e.samples = make([]bweSample, 0, 256)
			e.hist.Store(h)
		}
		e.mu.Unlock()
	}
	return &twccWriter{h: h, next: w, twccID: twccID, absID: absID}
}

// twccWriter is the per-stream send path.
type twccWriter struct {
	h      *twccHistoryRing
	next   interceptor.RTPWriter
	twccID uint8
	absID  uint8
}

// Write stamps and records one packet. It allocates nothing.
func (w *twccWriter) Write(hdr *rtp.Header, payload []byte, a interceptor.Attributes) (int, error) {
	var abs uint32
	if v := hdr.GetExtension(w.absID); w.absID != 0 && len(v) == 3 {
		abs = uint32(v[0])<<16 | uint32(v[1])<<8 | uint32(v[2])
	} else {
		abs = absSendTime(time.Now())
	}
	seq := uint16(w.h.next.Add(1) - 1)
	slot := int(seq) & twccMask
	ext := &w.h.ext[slot]
	binary.BigEndian.PutUint16(ext[:], seq)
	if err := hdr.SetExtension(w.twccID, ext[:]); err != nil {
		return 0, err
	}
	size := min(hdr.MarshalSize()+len(payload), twccSizeMax)
	w.h.words[slot].Store(uint64(seq) | uint64(size)<<twccSizeShift | uint64(abs)<<twccAbsShift)
	return w.next.Write(hdr, payload, a)
}

// absSendTime is t as abs-send-time: 6.18 fixed-point seconds, 24 bits.
func absSendTime(t time.Time) uint32 {
	ns := uint64(t.UnixNano())
	return uint32(((ns/1e9)<<18 | ((ns%1e9)<<18)/1e9) & 0xffffff)
}

// onRTCP processes the transport-cc feedback in a raw (compound) RTCP
// packet; everything else is ignored. Safe for concurrent use: the same
// compound packet may reach several RTPSenders' readers.
func (e *Estimator) onRTCP(b []byte) {
	if e.hist.Load() == nil || e.closed.Load() {
		return
	}
	forEachTWCC(b, e.onFeedback)
}

func (e *Estimator) onFeedback(pkt []byte) {
	h := e.hist.Load()
	e.mu.Lock()
	_, acks, err := parseTWCC(pkt, e.acks)
	e.acks = acks[:0]
	if err != nil {
		e.mu.Unlock()
		return
	}
	samples := e.samples[:0]
	for _, a := range acks {
		slot := &h.words[int(a.seq)&twccMask]
		w := slot.Load()
		if w&(twccSizeMax<<twccSizeShift) == 0 || uint16(w) != a.seq || w&twccAckedFlag != 0 {
			continue // not ours, overwritten since, or already counted
		}
		if !a.received {
			if w&twccLostFlag == 0 && slot.CompareAndSwap(w, w|twccLostFlag) {
				samples = append(samples, bweSample{})
			}
			continue
		}
		if !slot.CompareAndSwap(w, w|twccAckedFlag) {
			continue
		}
		abs := uint32(w>>twccAbsShift) & 0xffffff
		if !e.sendInit {
			e.sendInit, e.sendAbs, e.sendTick = true, abs, int64(abs)
		}
		d := int64(int32((abs-e.sendAbs)<<8) >> 8) // signed 24-bit difference
		e.sendAbs = abs
		e.sendTick += d
		samples = append(samples, bweSample{
			received: true,
			size:     int(w>>twccSizeShift) & twccSizeMax,
			send:     e.sendTick * 1e6 >> 18,
			arrival:  a.arrival,
		})
	}
	e.samples = samples[:0]
	est := e.state.update(samples)
	e.feedback.Add(1)
	e.target.Store(int64(est))
	var notify func(int)
	if r := e.reported; est < r || float64(est-r) >= bweReportChange*float64(r) {
		// Any decrease is news (the Allocator judges whether it is
		// congestion); increases are reported in steps.
		if est != r {
			e.reported = est
			notify = e.onChange
		}
	}
	e.mu.Unlock()
	if notify != nil {
		notify(est)
	}
}

// WriteRTCP feeds RTCP to the estimator by hand (the interceptor feeds it
// raw packets itself); only transport-cc feedback is used.
func (e *Estimator) WriteRTCP(pkts []rtcp.Packet, _ interceptor.Attributes) error {
	for _, p := range pkts {
		if fb, ok := p.(*rtcp.TransportLayerCC); ok {
			b, err := fb.Marshal()
			if err != nil {
				return err
			}
			e.onRTCP(b)
		}
	}
	return nil
}

// GetTargetBitrate returns the current estimate in bit/s.
func (e *Estimator) GetTargetBitrate() int { return int(e.target.Load()) }

// OnTargetBitrateChange sets the function called (on the goroutine reading
// the subscriber's RTCP, never under a lock) when the estimate falls or rises
// by 5% or more. It must not block.
func (e *Estimator) OnTargetBitrateChange(f func(bitrate int)) {
	e.mu.Lock()
	e.onChange = f
	e.mu.Unlock()
}

// GetStats reports the estimator's state for debugging.
func (e *Estimator) GetStats() map[string]any {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := e.state
	return map[string]any{
		"estimate":        s.estimate,
		"delivered":       s.rates[0],
		"loss":            s.loss,
		"queueDelayUs":    s.queue,
		"overusing":       s.overusing,
		"feedbackPackets": e.feedback.Load(),
	}
}

// Close stops feedback processing. Idempotent.
func (e *Estimator) Close() error {
	e.closed.Store(true)
	return nil
}

// twccFactory makes one twccInterceptor per PeerConnection.
type twccFactory struct {
	onEstimator func(id string, est cc.BandwidthEstimator)
}

func (f *twccFactory) NewInterceptor(id string) (interceptor.Interceptor, error) {
	e := NewEstimator()
	if f.onEstimator != nil {
		f.onEstimator(id, e)
	}
	return &twccInterceptor{est: e}, nil
}

// twccInterceptor wires an Estimator into pion's interceptor chain: outgoing
// streams get transport-wide sequence numbers, incoming RTCP is scanned for
// transport-cc feedback. It replaces pion's twcc header extension
// interceptor and cc+gcc, which allocated on every packet.
type twccInterceptor struct {
	interceptor.NoOp
	est *Estimator
}

func (i *twccInterceptor) BindLocalStream(info *interceptor.StreamInfo, w interceptor.RTPWriter) interceptor.RTPWriter {
	return i.est.AddStream(info, w)
}

func (i *twccInterceptor) BindRTCPReader(r interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := r.Read(b, a)
		if err == nil {
			i.est.onRTCP(b[:n])
		}
		return n, attr, err
	})
}

func (i *twccInterceptor) Close() error { return i.est.Close() }
