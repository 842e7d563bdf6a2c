package media

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the media path's Prometheus collectors. Create one per process
// with NewMetrics, register it once with Register, and pass it to every
// Receiver (DownTracks inherit it). A nil *Metrics disables metrics.
//
// Counters are not labelled per track or room: cardinality must stay bounded
// on a node with thousands of tracks; per-track figures are in Stats.
type Metrics struct {
	PacketsIn    prometheus.Counter
	BytesIn      prometheus.Counter
	PacketsOut   prometheus.Counter
	BytesOut     prometheus.Counter
	PacketsLost  prometheus.Counter   // detected missing upstream (gaps)
	NacksSent    prometheus.Counter   // sequence numbers NACKed upstream
	NacksRecv    prometheus.Counter   // sequence numbers NACKed by subscribers
	Retransmits  prometheus.Counter   // packets resent to subscribers from the buffer
	RTXSent      prometheus.Counter   // of those, sent as RTX (RFC 4588) on the subscriber's repair SSRC
	PLIsSent     prometheus.Counter   // keyframe requests sent upstream (after throttling)
	PLIsRecv     prometheus.Counter   // keyframe requests received from subscribers
	LayerSwitch  prometheus.Counter   // simulcast layer switches performed
	ForwardDelay prometheus.Histogram // seconds from a packet's arrival until its fan-out to every subscriber returned
}

// NewMetrics builds the collectors with names prefixed by namespace (e.g.
// "atrium") and subsystem "sfu_media".
func NewMetrics(namespace string) *Metrics {
	c := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Namespace: namespace, Subsystem: "sfu_media", Name: name, Help: help})
	}
	return &Metrics{
		PacketsIn:   c("packets_in_total", "RTP packets received from publishers."),
		BytesIn:     c("bytes_in_total", "RTP bytes received from publishers."),
		PacketsOut:  c("packets_out_total", "RTP packets written to subscribers (including retransmissions)."),
		BytesOut:    c("bytes_out_total", "RTP bytes written to subscribers (including retransmissions)."),
		PacketsLost: c("packets_lost_total", "RTP packets detected missing from publishers."),
		NacksSent:   c("nacks_sent_total", "Sequence numbers NACKed to publishers."),
		NacksRecv:   c("nacks_received_total", "Sequence numbers NACKed by subscribers."),
		Retransmits: c("retransmits_total", "Packets retransmitted to subscribers from the receive buffer."),
		RTXSent:     c("retransmits_rtx_total", "Retransmissions sent to subscribers as RTX (RFC 4588) on their repair SSRC."),
		PLIsSent:    c("plis_sent_total", "Keyframe requests (PLI) sent to publishers."),
		PLIsRecv:    c("plis_received_total", "Keyframe requests (PLI/FIR) received from subscribers."),
		LayerSwitch: c("layer_switches_total", "Simulcast stream and SVC layer switches."),
		ForwardDelay: prometheus.NewHistogram(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "sfu_media", Name: "forward_latency_seconds",
			Help:    "Time from an RTP packet's arrival until it was written to every subscriber.",
			Buckets: []float64{10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3},
		}),
	}
}

// Collectors returns every collector, for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		m.PacketsIn, m.BytesIn, m.PacketsOut, m.BytesOut, m.PacketsLost, m.NacksSent, m.NacksRecv,
		m.Retransmits, m.RTXSent, m.PLIsSent, m.PLIsRecv, m.LayerSwitch, m.ForwardDelay,
	}
}

// Register registers all collectors with reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range m.Collectors() {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("register media metrics: %w", err)
		}
	}
	return nil
}
