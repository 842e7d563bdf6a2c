package sfu

import (
	"fmt"
	"slices"

	"github.com/livekit/protocol/livekit"
	"github.com/pion/webrtc/v4"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// LiveKit's data channel labels. Clients publish on these channels of their publisher PC;
// the server sends on channels of the same names that it opens on the subscriber PC.
const (
	reliableLabel = "_reliable"
	lossyLabel    = "_lossy"
	maxDataBytes  = 64 << 10
)

func (p *participant) createDataChannels() error {
	ordered, unordered := true, false
	var zero uint16
	for label, init := range map[string]*webrtc.DataChannelInit{
		reliableLabel: {Ordered: &ordered},
		lossyLabel:    {Ordered: &unordered, MaxRetransmits: &zero},
	} {
		dc, err := p.sub.pc.CreateDataChannel(label, init)
		if err != nil {
			return fmt.Errorf("sfu: data channel %s: %w", label, err)
		}
		p.dcMu.Lock()
		p.subDC[label] = dc
		p.dcMu.Unlock()
	}
	return nil
}

// onPublisherDataChannel accepts the client's _reliable and _lossy channels.
func (p *participant) onPublisherDataChannel(dc *webrtc.DataChannel) {
	label := dc.Label()
	if label != reliableLabel && label != lossyLabel {
		p.log.Debug("ignoring data channel", "label", label)
		return
	}
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		p.onData(label, msg)
	})
}

// onData relays one data packet: it checks canPublishData, stamps the sender (so nobody can
// speak for someone else) and sends it to the destination identities, or to everyone else.
func (p *participant) onData(label string, msg webrtc.DataChannelMessage) {
	m := p.s.metrics.dataPackets
	if len(msg.Data) > maxDataBytes {
		m.WithLabelValues("oversized").Inc()
		return
	}
	if !p.canPublishData() {
		m.WithLabelValues("denied").Inc()
		return
	}
	pkt := &livekit.DataPacket{}
	var err error
	if msg.IsString {
		err = protojson.Unmarshal(msg.Data, pkt)
	} else {
		err = proto.Unmarshal(msg.Data, pkt)
	}
	if err != nil {
		m.WithLabelValues("malformed").Inc()
		return
	}
	pkt.ParticipantIdentity = p.identity
	pkt.ParticipantSid = p.sid //nolint:staticcheck // older SDKs read the deprecated field
	dest := pkt.DestinationIdentities
	if u := pkt.GetUser(); u != nil {
		u.ParticipantIdentity = p.identity //nolint:staticcheck
		u.ParticipantSid = p.sid           //nolint:staticcheck
		if len(dest) == 0 {
			dest = u.DestinationIdentities //nolint:staticcheck
		}
	}
	raw, err := proto.Marshal(pkt)
	if err != nil {
		m.WithLabelValues("malformed").Inc()
		return
	}
	for _, o := range p.room.others(p) {
		if len(dest) > 0 && !slices.Contains(dest, o.identity) {
			continue
		}
		o.sendData(label, raw)
	}
	p.room.span.forwardData(label, raw, dest, p.identity)
	m.WithLabelValues("relayed").Inc()
}

// sendData writes to the subscriber-side channel; packets for a channel not yet open are
// dropped, as on a lossy link (reliable delivery starts once the client is connected).
func (p *participant) sendData(label string, raw []byte) {
	p.dcMu.Lock()
	dc := p.subDC[label]
	p.dcMu.Unlock()
	if dc == nil || dc.ReadyState() != webrtc.DataChannelStateOpen {
		p.s.metrics.dataPackets.WithLabelValues("not_open").Inc()
		return
	}
	if err := dc.Send(raw); err != nil {
		p.log.Debug("data send failed", "label", label, "err", err)
	}
}
