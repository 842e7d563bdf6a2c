package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/atrium-live/atrium/pkg/logging"
	"github.com/atrium-live/atrium/sfu"
)

// sfuOptions are the flags shared by `atrium sfu` and `atrium dev`.
type sfuOptions struct {
	ConfigPath string
	Dev        bool
	LogLevel   string
}

func (o *sfuOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.ConfigPath, "config", "", "YAML config file (see config/sfu.yaml); ATRIUM_SFU_* variables override it")
	fs.BoolVar(&o.Dev, "dev", o.Dev, "dev mode: 127.0.0.1:7880, ICE UDP 127.0.0.1:7882, key devkey/secret, loopback candidates")
	fs.StringVar(&o.LogLevel, "log-level", "info", "debug, info, warn or error")
}

// runSFU runs one SFU media node until ctx is cancelled, then drains it.
func runSFU(ctx context.Context, args []string) error {
	var o sfuOptions
	fs := flag.NewFlagSet("sfu", flag.ContinueOnError)
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	srv, _, err := newSFU(o)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}

// newSFU loads the SFU configuration (dev or production defaults, then the YAML file, then
// the environment) and builds the server with a JSON logger. `atrium dev` uses it too.
func newSFU(o sfuOptions) (*sfu.Server, *slog.Logger, error) {
	log, err := logging.New(os.Stderr, o.LogLevel)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := loadSFUConfig(o)
	if err != nil {
		return nil, nil, err
	}
	srv, err := sfu.New(cfg, sfu.Deps{Logger: log.With("role", "sfu")})
	if err != nil {
		return nil, nil, err
	}
	return srv, log, nil
}

func loadSFUConfig(o sfuOptions) (sfu.Config, error) {
	cfg := sfu.DefaultConfig()
	if o.Dev {
		cfg = sfu.DevConfig()
	}
	if err := cfg.Load(o.ConfigPath, os.LookupEnv); err != nil {
		return cfg, fmt.Errorf("sfu config: %w", err)
	}
	return cfg, nil
}
