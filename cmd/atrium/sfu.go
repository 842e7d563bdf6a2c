package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/pkg/logging"
	"github.com/atrium-live/atrium/pkg/secrets"
	"github.com/atrium-live/atrium/pkg/telemetry"
	"github.com/atrium-live/atrium/sfu"
)

// sfuOptions are the flags shared by `atrium sfu` and `atrium dev`.
type sfuOptions struct {
	ConfigPath string
	Dev        bool
	LogLevel   string
	PprofAddr  string
	// Telemetry, when set, wraps the logger (Sentry, trace ids; see setupTelemetry).
	Telemetry func(*slog.Logger) (*slog.Logger, error)
}

func (o *sfuOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.ConfigPath, "config", "", "YAML config file (see config/sfu.yaml); ATRIUM_SFU_* variables override it")
	fs.BoolVar(&o.Dev, "dev", o.Dev, "dev mode: 127.0.0.1:7880, ICE UDP 127.0.0.1:7882, key devkey/secret, loopback candidates")
	fs.StringVar(&o.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&o.PprofAddr, "pprof", "", "serve net/http/pprof on this address, e.g. 127.0.0.1:6060 (off when empty)")
}

// runSFU runs one SFU media node until ctx is cancelled, then drains it.
func runSFU(ctx context.Context, args []string) error {
	var o sfuOptions
	fs := flag.NewFlagSet("sfu", flag.ContinueOnError)
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	flush := func() {}
	o.Telemetry = func(l *slog.Logger) (*slog.Logger, error) {
		var err error
		l, _, flush, err = telemetry.Setup(ctx, "sfu", l, os.LookupEnv)
		return l, err
	}
	srv, _, log, err := newSFU(o)
	defer func() { flush() }()
	if err != nil {
		return err
	}
	if err := registerDrainMetrics(srv.Registry(), srv); err != nil {
		return err
	}
	if o.PprofAddr != "" {
		stop, err := servePprof(o.PprofAddr, log)
		if err != nil {
			return err
		}
		defer stop()
	}
	return srv.Run(ctx)
}

// servePprof serves the runtime profiles on addr with a mux of its own (never the default
// mux, so nothing else registered there leaks out). Profiles expose internals: keep addr on
// loopback or a private network.
func servePprof(addr string, log *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("pprof: listen %s: %w", addr, err)
	}
	if host, _, _ := net.SplitHostPort(addr); host == "" || !net.ParseIP(host).IsLoopback() {
		log.Warn("pprof is served beyond loopback", "addr", ln.Addr().String())
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	log.Info("pprof serving", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// newSFU loads the SFU configuration (dev or production defaults, then the YAML file, then
// the environment) and builds the server with a JSON logger. `atrium dev` uses it too.
func newSFU(o sfuOptions) (*sfu.Server, sfu.Config, *slog.Logger, error) {
	log, err := logging.New(os.Stderr, o.LogLevel)
	if err != nil {
		return nil, sfu.Config{}, nil, err
	}
	if o.Telemetry != nil {
		if log, err = o.Telemetry(log); err != nil {
			return nil, sfu.Config{}, nil, err
		}
	}
	cfg, err := loadSFUConfig(o)
	if err != nil {
		return nil, cfg, nil, err
	}
	deps := sfu.Deps{Logger: log.With("role", "sfu")}
	src, err := newTLSSource(cfg.TLS.CertFile, cfg.TLS.KeyFile, cfg.TLS.ACME)
	if err != nil {
		return nil, cfg, nil, fmt.Errorf("sfu: %w", err)
	}
	if src != nil {
		if deps.HTTPListener, err = src.Listen(cfg.HTTPAddr); err != nil {
			return nil, cfg, nil, fmt.Errorf("sfu: %w", err)
		}
	}
	srv, err := sfu.New(cfg, deps)
	if err != nil {
		if deps.HTTPListener != nil {
			deps.HTTPListener.Close()
		}
		return nil, cfg, nil, err
	}
	if src != nil {
		srv.UseHSTS()
		srv.Registry().MustRegister(src.Collector("sfu"))
	}
	return srv, cfg, log, nil
}

// loadSFUConfig loads the SFU config and, outside dev mode (--dev or dev: true), refuses
// unsafe secrets. The secret check runs even when validation failed, so that one start-up
// names every unsafe secret together with the first other problem.
func loadSFUConfig(o sfuOptions) (sfu.Config, error) {
	cfg := sfu.DefaultConfig()
	if o.Dev {
		cfg = sfu.DevConfig()
	}
	err := cfg.Load(o.ConfigPath, os.LookupEnv)
	if err != nil {
		err = fmt.Errorf("sfu config: %w", err)
	}
	if !cfg.Dev {
		err = secrets.Join(err, "atrium sfu", cfg.Secrets())
	}
	return cfg, err
}

// registerDrainMetrics adds the drain deadline the "drain stuck" alert compares with the
// node's atrium_sfu_draining and atrium_sfu_participants: it comes from the drain state (a
// SIGTERM drain or one started through /admin/drain), so the rule needs no copy of
// drain_timeout.
func registerDrainMetrics(reg *prometheus.Registry, srv *sfu.Server) error {
	deadline := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "atrium_sfu_drain_deadline_timestamp_seconds",
		Help: "When the current drain closes or moves the remaining rooms (Unix time); 0 when not draining."}, func() float64 {
		st := srv.DrainStatus()
		if !st.Draining || st.Deadline.IsZero() {
			return 0
		}
		return float64(st.Deadline.Unix())
	})
	if err := reg.Register(deadline); err != nil {
		return fmt.Errorf("sfu drain metrics: %w", err)
	}
	return nil
}
