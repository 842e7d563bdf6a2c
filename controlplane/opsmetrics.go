package controlplane

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// opsCollector reports, when scraped, the health figures only the database knows: the sum of
// every ledger entry (0 unless money was created or destroyed), the email outbox and River
// job backlogs and the age of their oldest waiting item. The alert rules in
// deploy/prometheus/ watch them. Results are cached for cacheFor so that several Prometheus
// servers, or a fast scrape interval, cost at most one round of queries per period; a failed
// query leaves its series out (the rules alert on absence too).
type opsCollector struct {
	pool     *pgxpool.Pool
	log      *slog.Logger
	now      func() time.Time
	cacheFor time.Duration

	mu      sync.Mutex
	at      time.Time
	samples []prometheus.Metric
}

var (
	descImbalance = prometheus.NewDesc("atrium_money_ledger_imbalance_credits",
		"Sum of every ledger entry in credits; double-entry bookkeeping keeps it at 0.", nil, nil)
	descOutbox = prometheus.NewDesc("atrium_controlplane_email_outbox_pending",
		"Emails waiting in the outbox.", nil, nil)
	descOutboxAge = prometheus.NewDesc("atrium_controlplane_email_outbox_oldest_pending_seconds",
		"Age of the oldest email waiting in the outbox (0 when none).", nil, nil)
	descJobs = prometheus.NewDesc("atrium_controlplane_jobs_ready",
		"Background jobs due now and not yet running (River available or retryable).", nil, nil)
	descJobsAge = prometheus.NewDesc("atrium_controlplane_jobs_oldest_ready_seconds",
		"How long the oldest due job has waited for a worker (0 when none).", nil, nil)
)

func newOpsCollector(pool *pgxpool.Pool, log *slog.Logger, now func() time.Time) *opsCollector {
	return &opsCollector{pool: pool, log: log, now: now, cacheFor: 15 * time.Second}
}

// Describe implements prometheus.Collector.
func (c *opsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descImbalance, descOutbox, descOutboxAge, descJobs, descJobsAge} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *opsCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.samples == nil || c.now().Sub(c.at) >= c.cacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		c.samples = c.query(ctx)
		cancel()
		c.at = c.now()
	}
	for _, m := range c.samples {
		ch <- m
	}
}

func (c *opsCollector) query(ctx context.Context) []prometheus.Metric {
	var out []prometheus.Metric
	gauge := func(d *prometheus.Desc, v float64) {
		out = append(out, prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v))
	}
	var sum int64
	if err := c.pool.QueryRow(ctx, `SELECT COALESCE(SUM(amount), 0) FROM ledger_entries`).Scan(&sum); err != nil {
		c.log.Warn("ops metrics: ledger sum", "err", err)
	} else {
		gauge(descImbalance, float64(sum))
	}
	var n int64
	var age float64
	if err := c.pool.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(created_at)), 0)::float8
		FROM email_outbox WHERE status = 'pending'`).Scan(&n, &age); err != nil {
		c.log.Warn("ops metrics: outbox", "err", err)
	} else {
		gauge(descOutbox, float64(n))
		gauge(descOutboxAge, age)
	}
	if err := c.pool.QueryRow(ctx, `SELECT count(*), COALESCE(EXTRACT(EPOCH FROM now() - min(scheduled_at)), 0)::float8
		FROM river_job WHERE state IN ('available', 'retryable') AND scheduled_at <= now()`).Scan(&n, &age); err != nil {
		c.log.Warn("ops metrics: jobs", "err", err)
	} else {
		gauge(descJobs, float64(n))
		gauge(descJobsAge, age)
	}
	return out
}
