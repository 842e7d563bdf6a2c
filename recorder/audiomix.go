package recorder

import (
	"net"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// How audio is mixed: the muxer has a fixed number of audio inputs ("slots", each its own
// loopback RTP stream) mixed by ffmpeg's amix. A speaker's track is forwarded into a free
// slot; a slot with no speaker, or whose speaker is silent (Opus DTX sends nothing), is fed
// Opus silence frames every 20 ms, because amix waits for every input and one starved
// input would stall the mix. Each slot is one continuous RTP stream whatever feeds it: the
// munger rewrites sequence numbers and timestamps when the source changes.

// opusSilence is a 20 ms Opus packet that decodes to silence (RFC 6716 §3.1: TOC 0xF8 =
// config 31 CELT fullband 20 ms, mono, one frame; 0xFF 0xFE is an empty CELT frame, as
// encoders emit in DTX).
var opusSilence = []byte{0xf8, 0xff, 0xfe}

const (
	opusTicks = 960 // 20 ms at 48 kHz
	// silenceAfter is how long a slot waits without a speaker's packet before filling.
	silenceAfter = 60 * time.Millisecond
)

// audioMunger keeps one slot's output stream continuous. Not safe for concurrent use.
type audioMunger struct {
	started  bool
	seq      uint16 // last output sequence number
	ts       uint32 // last output timestamp
	inSSRC   uint32 // current source; 0 = silence
	tsOffset uint32 // output ts = input ts + tsOffset for the current source
	lastInTS uint32
	lastReal time.Time
}

// real maps a speaker's packet to the output stream; ok false drops it (an old packet of
// the current source, which would step the output back in time).
func (m *audioMunger) real(now time.Time, ssrc uint32, ts uint32) (outSeq uint16, outTS uint32, ok bool) {
	if !m.started || ssrc != m.inSSRC {
		// New source (or back from silence): continue one frame after the last output.
		next := m.ts + opusTicks
		if !m.started {
			next = ts
		}
		m.tsOffset = next - ts
		m.inSSRC = ssrc
		m.lastInTS = ts
		m.started = true
	} else if int32(ts-m.lastInTS) <= 0 {
		return 0, 0, false
	}
	m.lastInTS = ts
	m.lastReal = now
	m.seq++
	m.ts = ts + m.tsOffset
	return m.seq, m.ts, true
}

// silence returns the next filler packet's numbers when the slot has been quiet for
// silenceAfter; ok false means a speaker is feeding it. After filler, the speaker's next
// packet starts a new mapping (its timestamps jumped over the gap).
func (m *audioMunger) silence(now time.Time) (outSeq uint16, outTS uint32, ok bool) {
	if m.started && now.Sub(m.lastReal) < silenceAfter {
		return 0, 0, false
	}
	if !m.started {
		m.started = true
		m.ts = 0
	} else {
		m.ts += opusTicks
	}
	m.inSSRC = 0
	m.seq++
	return m.seq, m.ts, true
}

// audioSlot is one mixer input: a loopback socket and the munger guarding its stream.
type audioSlot struct {
	mu    sync.Mutex
	conn  *net.UDPConn // the session's sending socket
	addr  *net.UDPAddr // ffmpeg's input port; changes with each muxer
	ssrc  uint32
	m     audioMunger
	busy  bool // a speaker is assigned
	buf   []byte
	label string
}

func (s *audioSlot) send(seq uint16, ts uint32, payload []byte) {
	p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: audioPT, SequenceNumber: seq, Timestamp: ts,
		SSRC: s.ssrc}, Payload: payload}
	n, err := p.MarshalTo(s.buf)
	if err != nil {
		return
	}
	if s.addr != nil {
		_, _ = s.conn.WriteToUDP(s.buf[:n], s.addr)
	}
}

// audioMixer owns the slots. Safe for concurrent use.
type audioMixer struct {
	slots []*audioSlot
}

// newAudioMixer makes n slots that send through conn.
func newAudioMixer(n int, conn *net.UDPConn) *audioMixer {
	mx := &audioMixer{}
	for i := range n {
		mx.slots = append(mx.slots, &audioSlot{conn: conn, ssrc: uint32(0x5100 + i), buf: make([]byte, 1500)})
	}
	return mx
}

// reserve gives every slot a fresh ffmpeg input port and returns them.
func (mx *audioMixer) reserve() ([]int, error) {
	ports := make([]int, len(mx.slots))
	for i, s := range mx.slots {
		p, err := reservePair()
		if err != nil {
			return nil, err
		}
		ports[i] = p
		s.mu.Lock()
		s.addr = &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}
		s.mu.Unlock()
	}
	return ports, nil
}

// assign takes a free slot for a speaker; nil when all are taken.
func (mx *audioMixer) assign(label string) *audioSlot {
	for _, s := range mx.slots {
		s.mu.Lock()
		if !s.busy {
			s.busy, s.label = true, label
			s.mu.Unlock()
			return s
		}
		s.mu.Unlock()
	}
	return nil
}

// fill feeds silence into quiet slots, one 20 ms frame per 20 ms of wall time, until done
// is closed. A late tick (a loaded machine) sends the frames it missed, so the mix's media
// time keeps pace with the class instead of drifting behind the picture.
func (mx *audioMixer) fill(done <-chan struct{}) {
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			n := min(int(now.Sub(last)/(20*time.Millisecond)), 25)
			if n < 1 {
				continue
			}
			last = last.Add(time.Duration(n) * 20 * time.Millisecond)
			if now.Sub(last) > time.Second {
				last = now // stalled for long: do not try to catch up
			}
			for _, s := range mx.slots {
				s.mu.Lock()
				for range n {
					if seq, ts, ok := s.m.silence(now); ok {
						s.send(seq, ts, opusSilence)
					}
				}
				s.mu.Unlock()
			}
		}
	}
}

// forwardAudio copies a speaker's Opus packets into slot until the track ends, then frees
// the slot.
func forwardAudio(track *webrtc.TrackRemote, s *audioSlot, enabled func() bool) {
	defer func() {
		s.mu.Lock()
		s.busy, s.label = false, ""
		s.mu.Unlock()
	}()
	for {
		p, _, err := track.ReadRTP()
		if err != nil {
			return
		}
		if !enabled() || len(p.Payload) == 0 {
			continue
		}
		s.mu.Lock()
		if seq, ts, ok := s.m.real(time.Now(), p.SSRC, p.Timestamp); ok {
			s.send(seq, ts, p.Payload)
		}
		s.mu.Unlock()
	}
}
