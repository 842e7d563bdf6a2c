package bench

import (
	"fmt"
	"sync"
	"time"

	lksdk "github.com/livekit/server-sdk-go/v2"
	sdkinterceptor "github.com/livekit/server-sdk-go/v2/pkg/interceptor"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
)

// Feedback is the RTCP a tester subscriber sends back to the server. RTCP is a real part of
// a server's cost per forwarded packet (each feedback datagram is decrypted, parsed and acted
// on), so a tester that sends less than real clients flatters the server.
type Feedback string

const (
	// FeedbackBrowser (the default) behaves like livekit-client in Chrome: receiver reports
	// every second per stream, transport-wide congestion control feedback every 50 ms
	// (Chrome sends it at 5% of the received bitrate, at most every 50 ms: 50 ms from about
	// 1 Mbit/s up), NACKs on loss (the SDK's generator), and a PLI when a video stream has
	// no decodable start (no keyframe yet) or loses a packet that NACKs did not repair.
	FeedbackBrowser Feedback = "browser"
	// FeedbackSDK is server-sdk-go's default subscriber: receiver reports every second,
	// transport-cc feedback every 100 ms, NACKs on loss; no PLIs.
	FeedbackSDK Feedback = "sdk"
	// FeedbackNone sends no RTCP at all (the lean subscriber): the server's cost is then
	// its forwarding alone. Not what any real client does.
	FeedbackNone Feedback = "none"
)

// Feedbacks lists the modes, default first.
var Feedbacks = []Feedback{FeedbackBrowser, FeedbackSDK, FeedbackNone}

// ParseFeedback returns the mode named s ("" is the default).
func ParseFeedback(s string) (Feedback, error) {
	if s == "" {
		return FeedbackBrowser, nil
	}
	for _, f := range Feedbacks {
		if string(f) == s {
			return f, nil
		}
	}
	return "", fmt.Errorf("feedback %q: want browser, sdk or none", s)
}

// Browser-like feedback timing.
const (
	browserTWCCInterval = 50 * time.Millisecond
	// A packet still missing this long after the gap was seen is beyond NACK repair: the
	// frame cannot be decoded and the receiver asks for a keyframe.
	pliRepairWait = 500 * time.Millisecond
	// At most one PLI per stream this often (Chrome's key frame request throttle is of
	// this order).
	pliMinInterval = 300 * time.Millisecond
)

// connectOptions are the SDK options that make a participant's PeerConnections send f's
// feedback. Interceptors apply to the publisher PC too: publishers always get the SDK's
// defaults (they answer NACKs from their retransmission buffer).
func (f Feedback) connectOptions(publishes bool) ([]lksdk.ConnectOption, error) {
	if publishes || f == FeedbackSDK {
		return nil, nil
	}
	if f == FeedbackNone {
		// An empty, non-nil list replaces the SDK's defaults with nothing.
		return []lksdk.ConnectOption{lksdk.WithInterceptors([]interceptor.Factory{})}, nil
	}
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, fmt.Errorf("bench: receiver reports: %w", err)
	}
	fb, err := twcc.NewSenderInterceptor(twcc.SendInterval(browserTWCCInterval))
	if err != nil {
		return nil, fmt.Errorf("bench: transport-cc feedback: %w", err)
	}
	return []lksdk.ConnectOption{lksdk.WithInterceptors([]interceptor.Factory{
		&sdkinterceptor.NackGeneratorInterceptorFactory{}, rr, fb, pliFactory{},
	})}, nil
}

// pliFactory makes the keyframe-requesting part of a browser-like receiver.
type pliFactory struct{}

func (pliFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &pliInterceptor{}, nil
}

// pliInterceptor sends a PLI for a video stream that has no keyframe yet, or whose loss
// stayed unrepaired for pliRepairWait.
type pliInterceptor struct {
	interceptor.NoOp
	mu     sync.Mutex
	writer interceptor.RTCPWriter
}

func (p *pliInterceptor) BindRTCPWriter(w interceptor.RTCPWriter) interceptor.RTCPWriter {
	p.mu.Lock()
	p.writer = w
	p.mu.Unlock()
	return w
}

func (p *pliInterceptor) BindRemoteStream(info *interceptor.StreamInfo, r interceptor.RTPReader) interceptor.RTPReader {
	if len(info.MimeType) < 6 || info.MimeType[:6] != "video/" {
		return r
	}
	st := &decodeState{vp8: equalFold(info.MimeType, "video/VP8")}
	ssrc := info.SSRC
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attr, err := r.Read(b, a)
		if err != nil || n < 12 {
			return n, attr, err
		}
		if st.observe(b[:n], time.Now()) {
			p.mu.Lock()
			w := p.writer
			p.mu.Unlock()
			if w != nil {
				_, _ = w.Write([]rtcp.Packet{&rtcp.PictureLossIndication{SenderSSRC: ssrc, MediaSSRC: ssrc}}, nil)
			}
		}
		return n, attr, err
	})
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'a' <= x && x <= 'z' {
			x -= 'a' - 'A'
		}
		if 'a' <= y && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// decodeState is a video receiver's view of whether it can decode: a pure function of
// the packets it saw (observe), tested in feedback_test.go.
type decodeState struct {
	vp8      bool
	started  bool // a first packet arrived
	keyframe bool // a keyframe arrived (for VP8; other codecs are assumed decodable)
	highest  uint16
	// Gaps not yet filled: sequence number and when it went missing. A small fixed set:
	// beyond it the oldest is dropped (it would cause a PLI soon anyway).
	gaps    [32]gap
	ngaps   int
	lastPLI time.Time
}

type gap struct {
	seq  uint16
	seen time.Time
}

// observe records one RTP packet (raw, header included) received at now and reports
// whether a PLI is due.
func (s *decodeState) observe(pkt []byte, now time.Time) bool {
	seq := uint16(pkt[2])<<8 | uint16(pkt[3])
	if !s.keyframe && (!s.vp8 || vp8Keyframe(pkt)) {
		s.keyframe = true
	}
	switch {
	case !s.started:
		s.started, s.highest = true, seq
	case int16(seq-s.highest) > 0:
		for m := s.highest + 1; m != seq && int16(seq-m) > 0; m++ {
			s.addGap(m, now)
		}
		s.highest = seq
	default:
		s.fill(seq)
	}
	due := !s.keyframe
	for i := 0; i < s.ngaps; i++ {
		if now.Sub(s.gaps[i].seen) >= pliRepairWait {
			due = true
			s.ngaps = 0 // the keyframe replaces whatever was missing
			break
		}
	}
	if !due || now.Sub(s.lastPLI) < pliMinInterval {
		return false
	}
	s.lastPLI = now
	return true
}

func (s *decodeState) addGap(seq uint16, now time.Time) {
	if s.ngaps == len(s.gaps) {
		copy(s.gaps[:], s.gaps[1:])
		s.ngaps--
	}
	s.gaps[s.ngaps] = gap{seq: seq, seen: now}
	s.ngaps++
}

func (s *decodeState) fill(seq uint16) {
	for i := 0; i < s.ngaps; i++ {
		if s.gaps[i].seq == seq {
			copy(s.gaps[i:], s.gaps[i+1:s.ngaps])
			s.ngaps--
			return
		}
	}
}

// vp8Keyframe reports whether pkt (RTP) starts a VP8 keyframe (RFC 7741 §4.2, §4.3).
func vp8Keyframe(pkt []byte) bool {
	hl := 12 + 4*int(pkt[0]&0x0f)
	if pkt[0]&0x10 != 0 { // header extension
		if len(pkt) < hl+4 {
			return false
		}
		hl += 4 + 4*(int(pkt[hl+2])<<8|int(pkt[hl+3]))
	}
	if len(pkt) <= hl {
		return false
	}
	d := pkt[hl:]
	if d[0]&0x10 == 0 || d[0]&0x07 != 0 { // not the start of partition 0
		return false
	}
	i := 1
	if d[0]&0x80 != 0 { // X
		if len(d) <= i {
			return false
		}
		x := d[i]
		i++
		if x&0x80 != 0 { // I: PictureID
			if len(d) <= i {
				return false
			}
			if d[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	return len(d) > i && d[i]&0x01 == 0
}
