package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/logging"
	"github.com/atrium-live/atrium/pkg/secrets"
	"github.com/atrium-live/atrium/pkg/telemetry"
)

// runControlPlane serves the control plane API, web UI and background jobs.
func runControlPlane(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	path := fs.String("config", "", "YAML config file (see config/controlplane.yaml); ATRIUM_* variables override it")
	seed := fs.Bool("seed-demo", false, "create demo accounts and classes and print them (development only)")
	dev := fs.Bool("dev", false, "development mode: accept the development secrets committed in config/ (never in production)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, log, err := loadControlPlane(*path)
	if !*dev {
		err = secrets.Join(err, "atrium controlplane", cfg.Secrets())
	}
	if err != nil {
		return err
	}
	log, tp, flush, err := telemetry.Setup(ctx, "controlplane", log, os.LookupEnv)
	if err != nil {
		return err
	}
	defer flush()
	srv, err := controlplane.New(ctx, cfg, controlplane.Deps{Log: log, UI: controlplane.NewUI(cfg.UI), Tracing: tp})
	if err != nil {
		return err
	}
	if cfg.SeedDemo || *seed {
		demo, err := controlplane.SeedDemo(ctx, srv)
		if err != nil {
			srv.Close()
			return err
		}
		demo.Print(os.Stdout)
	}
	ln, err := listenControlPlane(cfg.HTTP, srv.Registry)
	if err != nil {
		srv.Close()
		return err
	}
	if cfg.HTTP.MetricsAddr != "" {
		stop, err := serveOps(cfg.HTTP.MetricsAddr, srv.OpsHandler(), log)
		if err != nil {
			_ = ln.Close()
			srv.Close()
			return err
		}
		defer stop()
	}
	return srv.Run(ctx, ln)
}

// loadControlPlane reads the control plane config (defaults, YAML at path, ATRIUM_* env,
// validation) and builds its logger.
func loadControlPlane(path string) (controlplane.Config, *slog.Logger, error) {
	cfg := controlplane.DefaultConfig()
	if err := config.Load(&cfg, path, "ATRIUM", os.LookupEnv); err != nil {
		return cfg, nil, err
	}
	log, err := logging.New(os.Stderr, cfg.LogLevel)
	if err != nil {
		return cfg, nil, err
	}
	return cfg, log.With("service", "controlplane"), nil
}

// listenControlPlane listens on the control plane's address, in TLS when cert files or ACME
// domains are set (HSTS is then on, see controlplane.New).
func listenControlPlane(c controlplane.HTTPConfig, reg *prometheus.Registry) (net.Listener, error) {
	src, err := newTLSSource(c.TLSCertFile, c.TLSKeyFile, c.ACME)
	if err != nil {
		return nil, err
	}
	if src == nil {
		ln, err := net.Listen("tcp", c.Addr)
		if err != nil {
			return nil, fmt.Errorf("listen %s: %w", c.Addr, err)
		}
		return ln, nil
	}
	if err := reg.Register(src.Collector("controlplane")); err != nil {
		return nil, fmt.Errorf("tls metrics: %w", err)
	}
	return src.Listen(c.Addr)
}

// serveOps serves operator endpoints (metrics, pprof) on addr until stop is called.
func serveOps(addr string, h http.Handler, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("metrics and pprof serving", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
