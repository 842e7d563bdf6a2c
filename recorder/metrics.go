package recorder

import "github.com/prometheus/client_golang/prometheus"

// metrics are the recorder's Prometheus series, registered on the server's own registry.
type metrics struct {
	active         prometheus.Gauge
	segments       prometheus.Counter
	uploadedBytes  prometheus.Counter
	uploadFailures prometheus.Counter
	spoolBytes     prometheus.Gauge
	uploadDelay    prometheus.Histogram
	takeovers      prometheus.Counter
	gapSeconds     prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_recorder_active_recordings",
			Help: "Recordings this recorder is writing now."}),
		segments: prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_recorder_segments_total",
			Help: "Media segments uploaded."}),
		uploadedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_recorder_uploaded_bytes_total",
			Help: "Bytes uploaded to object storage (segments, init segments, playlists)."}),
		uploadFailures: prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_recorder_upload_failures_total",
			Help: "Failed upload attempts (each is retried with backoff)."}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "atrium_recorder_spool_bytes",
			Help: "Bytes of finished segments waiting on local disk for upload."}),
		uploadDelay: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "atrium_recorder_segment_upload_delay_seconds",
			Help:    "From a segment's end (its last media captured) to its upload completing.",
			Buckets: []float64{0.25, 0.5, 1, 2, 3, 5, 10, 30, 60}}),
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_recorder_takeovers_total",
			Help: "Recordings this recorder took over from another (a discontinuity in the playlist)."}),
		gapSeconds: prometheus.NewCounter(prometheus.CounterOpts{Name: "atrium_recorder_gap_seconds_total",
			Help: "Seconds of class missing from recordings because of takeovers."}),
	}
	reg.MustRegister(m.active, m.segments, m.uploadedBytes, m.uploadFailures, m.spoolBytes,
		m.uploadDelay, m.takeovers, m.gapSeconds)
	return m
}
