package sfu

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the session layer's Prometheus series. Packet, byte, NACK and PLI counters and
// the forwarding-latency histogram belong to the media path (media.Metrics), registered next
// to these by New.
type metrics struct {
	rooms         prometheus.Gauge
	participants  prometheus.Gauge
	tracks        prometheus.Gauge
	joinLatency   prometheus.Histogram
	signalErrors  *prometheus.CounterVec
	dataPackets   *prometheus.CounterVec
	webhookErrors prometheus.Counter

	// cluster
	signalRoutes      *prometheus.CounterVec
	leaseErrors       prometheus.Counter
	draining          prometheus.Gauge
	drainRooms        prometheus.Gauge
	drainParticipants prometheus.Gauge
	slowClients       prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		rooms:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_sfu_rooms", Help: "Rooms open on this node."}),
		participants: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_sfu_participants", Help: "Participants connected to this node."}),
		tracks:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_sfu_published_tracks", Help: "Tracks published on this node."}),
		joinLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "atrium_sfu_join_latency_seconds", Help: "WebSocket accepted to the participant's primary PeerConnection connected.",
			Buckets: []float64{.05, .1, .2, .3, .5, .75, 1, 1.5, 2, 3, 5, 10},
		}),
		signalErrors:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atrium_sfu_signal_errors_total", Help: "Rejected or failed signal requests by kind."}, []string{"kind"}),
		dataPackets:   prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atrium_sfu_data_packets_total", Help: "Data packets by outcome (relayed, denied, malformed)."}, []string{"outcome"}),
		webhookErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_sfu_webhook_failures_total", Help: "Webhooks dropped after all retries."}),
		signalRoutes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "atrium_sfu_signal_routes_total",
			Help: "Signal requests by routing outcome (local, proxied, unauthorized, unavailable, too_many_hops)."}, []string{"outcome"}),
		leaseErrors:       prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_sfu_lease_errors_total", Help: "Room lease renewals or releases that failed (placement store unavailable)."}),
		draining:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_sfu_draining", Help: "1 while the node drains."}),
		drainRooms:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_sfu_drain_rooms", Help: "Rooms left on a draining node."}),
		drainParticipants: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_sfu_drain_participants", Help: "Participants left on a draining node."}),
		slowClients:       prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_sfu_slow_clients_total", Help: "Participants disconnected because their signal queue overflowed (bytes or messages)."}),
	}
	for _, c := range []prometheus.Collector{m.rooms, m.participants, m.tracks, m.joinLatency, m.signalErrors, m.dataPackets, m.webhookErrors,
		m.signalRoutes, m.leaseErrors, m.draining, m.drainRooms, m.drainParticipants, m.slowClients} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register: %w", err)
		}
	}
	return m, nil
}
