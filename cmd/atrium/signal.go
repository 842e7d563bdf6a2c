package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/atrium-live/atrium/pkg/logging"
	"github.com/atrium-live/atrium/pkg/secrets"
	"github.com/atrium-live/atrium/pkg/telemetry"
	"github.com/atrium-live/atrium/signaling"
)

// runSignal runs the stateless signal gateway until ctx is cancelled.
func runSignal(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("signal", flag.ContinueOnError)
	configPath := fs.String("config", "", "YAML config file (see config/signal.yaml); ATRIUM_SIGNAL_* variables override it")
	dev := fs.Bool("dev", false, "dev mode: 127.0.0.1:7880, gossip 127.0.0.1:7946 with the local preset, devkey/secret")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := logging.New(os.Stderr, *logLevel)
	if err != nil {
		return err
	}
	cfg := signaling.DefaultConfig()
	if *dev {
		cfg = signaling.DevConfig()
	}
	err = cfg.Load(*configPath, os.LookupEnv)
	if err != nil {
		err = fmt.Errorf("signal config: %w", err)
	}
	if !cfg.Dev {
		err = secrets.Join(err, "atrium signal", cfg.Secrets())
	}
	if err != nil {
		return err
	}
	log, tp, flush, err := telemetry.Setup(ctx, "signal", log, os.LookupEnv)
	if err != nil {
		return err
	}
	defer flush()
	g, err := signaling.New(cfg, signaling.Deps{Logger: log.With("role", "signal"), Tracing: tp})
	if err != nil {
		return err
	}
	return g.Run(ctx)
}
