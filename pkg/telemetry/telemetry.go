// Package telemetry wires a role's error reporting (pkg/errreport, Sentry) and tracing
// (pkg/tracing, OpenTelemetry) from the environment, the same variables for every role:
// ATRIUM_SENTRY_DSN (or _FILE), ATRIUM_SENTRY_ENVIRONMENT, ATRIUM_SENTRY_SAMPLE_RATE,
// ATRIUM_TRACING_OTLP_ENDPOINT, ATRIUM_TRACING_SAMPLE_RATIO. Both are off when unset.
package telemetry

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/errreport"
	"github.com/atrium-live/atrium/pkg/tracing"
	"github.com/atrium-live/atrium/pkg/version"
)

// Config is what Setup reads, with prefix EnvPrefix.
type Config struct {
	Sentry  errreport.Config `yaml:"sentry"`
	Tracing tracing.Config   `yaml:"tracing"`
}

// Validate checks both parts.
func (c *Config) Validate() error {
	return errors.Join(c.Sentry.Validate(), c.Tracing.Validate())
}

// EnvPrefix prefixes the variables Setup reads.
const EnvPrefix = "ATRIUM"

// Setup reads Config from lookup (os.LookupEnv) and returns log reporting errors to Sentry
// and writing trace ids, the tracing provider (nil when off) and a function that flushes
// both; call it before the process exits.
func Setup(ctx context.Context, role string, log *slog.Logger, lookup func(string) (string, bool)) (*slog.Logger, *tracing.Provider, func(), error) {
	var c Config
	if err := config.Load(&c, "", EnvPrefix, lookup); err != nil {
		return nil, nil, nil, err
	}
	rep, err := errreport.New(c.Sentry, role, version.Version)
	if err != nil {
		return nil, nil, nil, err
	}
	tp, err := tracing.New(ctx, c.Tracing, role, version.Version)
	if err != nil {
		return nil, nil, nil, err
	}
	if rep != nil {
		log.Info("errors reported to Sentry", "environment", c.Sentry.Environment)
	}
	if tp != nil {
		log.Info("tracing exported over OTLP", "endpoint", c.Tracing.OTLPEndpoint)
	}
	log = slog.New(errreport.Handler(tracing.LogHandler(log.Handler()), rep))
	done := func() {
		rep.Flush(5 * time.Second)
		if tp != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = tp.Shutdown(sctx)
		}
	}
	return log, tp, done, nil
}
