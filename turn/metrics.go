package turn

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the relay's Prometheus collectors, all prefixed atrium_turn_. Counters on the
// packet path are resolved to their label values once per listener, so relaying a packet costs
// two atomic adds.
type metrics struct {
	allocations        *prometheus.GaugeVec   // transport
	allocationsCreated *prometheus.CounterVec // transport
	rejections         *prometheus.CounterVec // reason: user_quota, total_quota, draining
	authFailures       *prometheus.CounterVec // reason: malformed, expired, bad_password
	peerDenied         prometheus.Counter
	relayedBytes       *prometheus.CounterVec // transport, direction: to_peer, from_peer
	relayedPackets     *prometheus.CounterVec // transport, direction
	dropped            *prometheus.CounterVec // transport, reason: bandwidth
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		allocations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "atrium_turn_allocations",
			Help: "Live TURN allocations, by client transport (udp, tcp, tls).",
		}, []string{"transport"}),
		allocationsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_turn_allocations_created_total",
			Help: "TURN allocations created, by client transport.",
		}, []string{"transport"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_turn_allocation_rejections_total",
			Help: "Allocate requests refused with 486, by reason (user_quota, total_quota, draining).",
		}, []string{"reason"}),
		authFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_turn_auth_failures_total",
			Help: "Requests answered 401 for bad credentials, by reason (malformed, expired, bad_password).",
		}, []string{"reason"}),
		peerDenied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "atrium_turn_peer_denied_total",
			Help: "CreatePermission/ChannelBind requests refused with 403 because the peer address is in a refused range.",
		}),
		relayedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_turn_relayed_bytes_total",
			Help: "Payload bytes relayed, by client transport and direction (to_peer, from_peer).",
		}, []string{"transport", "direction"}),
		relayedPackets: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_turn_relayed_packets_total",
			Help: "Packets relayed, by client transport and direction (to_peer, from_peer).",
		}, []string{"transport", "direction"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "atrium_turn_dropped_packets_total",
			Help: "Packets dropped by the relay, by client transport and reason (bandwidth).",
		}, []string{"transport", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.allocations, m.allocationsCreated, m.rejections,
		m.authFailures, m.peerDenied, m.relayedBytes, m.relayedPackets, m.dropped} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return nil, fmt.Errorf("turn: metrics already registered (one relay per registry): %w", err)
			}
			return nil, fmt.Errorf("turn: register metrics: %w", err)
		}
	}
	return m, nil
}

// transportMetrics are the packet-path collectors of one listener, resolved once.
type transportMetrics struct {
	allocations                    prometheus.Gauge
	created                        prometheus.Counter
	toPeerBytes, toPeerPackets     prometheus.Counter
	fromPeerBytes, fromPeerPackets prometheus.Counter
	droppedBandwidth               prometheus.Counter
}

func (m *metrics) forTransport(transport string) *transportMetrics {
	return &transportMetrics{
		allocations:      m.allocations.WithLabelValues(transport),
		created:          m.allocationsCreated.WithLabelValues(transport),
		toPeerBytes:      m.relayedBytes.WithLabelValues(transport, "to_peer"),
		toPeerPackets:    m.relayedPackets.WithLabelValues(transport, "to_peer"),
		fromPeerBytes:    m.relayedBytes.WithLabelValues(transport, "from_peer"),
		fromPeerPackets:  m.relayedPackets.WithLabelValues(transport, "from_peer"),
		droppedBandwidth: m.dropped.WithLabelValues(transport, "bandwidth"),
	}
}
