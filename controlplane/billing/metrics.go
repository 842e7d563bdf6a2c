package billing

import "github.com/prometheus/client_golang/prometheus"

// Metrics counts Stripe webhooks, credited purchases and paid payouts for Prometheus. A nil
// *Metrics records nothing.
type Metrics struct {
	webhooks  *prometheus.CounterVec
	purchases prometheus.Counter
	credits   prometheus.Counter
	payouts   prometheus.Counter
}

// NewMetrics registers the billing metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	opts := func(name, help string) prometheus.CounterOpts {
		return prometheus.CounterOpts{Namespace: "atrium", Subsystem: "money", Name: name, Help: help}
	}
	m := &Metrics{
		webhooks: prometheus.NewCounterVec(opts("stripe_webhooks_total",
			"Stripe webhook deliveries by result (processed, duplicate, ignored, queued_for_retry, invalid_signature)."),
			[]string{"result"}),
		purchases: prometheus.NewCounter(opts("purchases_credited_total", "Credit purchases credited to wallets.")),
		credits:   prometheus.NewCounter(opts("purchased_credits_total", "Credits added by purchases.")),
		payouts:   prometheus.NewCounter(opts("payouts_paid_total", "Teacher payouts paid by Stripe transfer.")),
	}
	reg.MustRegister(m.webhooks, m.purchases, m.credits, m.payouts)
	return m
}

func (m *Metrics) webhook(result string) {
	if m != nil {
		m.webhooks.WithLabelValues(result).Inc()
	}
}

func (m *Metrics) purchase(credits int) {
	if m != nil {
		m.purchases.Inc()
		m.credits.Add(float64(credits))
	}
}

func (m *Metrics) payout() {
	if m != nil {
		m.payouts.Inc()
	}
}
