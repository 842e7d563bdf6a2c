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

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/logging"
)

// runControlPlane serves the control plane API, web UI and background jobs.
func runControlPlane(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("controlplane", flag.ContinueOnError)
	path := fs.String("config", "", "YAML config file (see config/controlplane.yaml); ATRIUM_* variables override it")
	seed := fs.Bool("seed-demo", false, "create demo accounts and classes and print them (development only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, log, err := loadControlPlane(*path)
	if err != nil {
		return err
	}
	srv, err := controlplane.New(ctx, cfg, controlplane.Deps{Log: log, UI: controlplane.NewUI(cfg.UI)})
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
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		srv.Close()
		return fmt.Errorf("listen %s: %w", cfg.HTTP.Addr, err)
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
