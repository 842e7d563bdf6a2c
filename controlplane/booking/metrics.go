package booking

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts bookings, refunds and class outcomes for Prometheus. Refunds and outcomes
// are counted when recorded inside their transaction, so a rolled-back transaction can
// over-count; the ledger, not these counters, is the truth. A nil *Metrics records nothing.
type Metrics struct {
	bookings        *prometheus.CounterVec
	refunds         *prometheus.CounterVec
	refundedCredits *prometheus.CounterVec
	outcomes        *prometheus.CounterVec
}

// NewMetrics registers the booking metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	vec := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "atrium", Subsystem: "money", Name: name, Help: help},
			[]string{label})
	}
	m := &Metrics{
		bookings:        vec("bookings_total", "Booking requests by result (created, replayed, or the error code).", "result"),
		refunds:         vec("refunds_total", "Refunds by rule.", "rule"),
		refundedCredits: vec("refunded_credits_total", "Credits refunded by rule.", "rule"),
		outcomes:        vec("class_outcomes_total", "Classes decided by outcome (no_show, cancelled, early_end, completed).", "outcome"),
	}
	reg.MustRegister(m.bookings, m.refunds, m.refundedCredits, m.outcomes)
	return m
}

func (m *Metrics) booking(result string) {
	if m != nil {
		m.bookings.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) refund(rule string, credits int) {
	if m != nil {
		m.refunds.WithLabelValues(rule).Inc()
		m.refundedCredits.WithLabelValues(rule).Add(float64(credits))
	}
}

func (m *Metrics) outcome(o string) {
	if m != nil {
		m.outcomes.WithLabelValues(o).Inc()
	}
}
