package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/egress"
	"github.com/atrium-live/atrium/pkg/telemetry"
	"github.com/atrium-live/atrium/recorder"
)

// runRecorder runs a recorder: defaults, then --config YAML, then ATRIUM_RECORDER_*
// environment, then validation. It claims recording jobs from Redis (redis.addr) and records
// them until ctx is cancelled; jobs in progress are then taken over by another recorder.
func runRecorder(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("recorder", flag.ContinueOnError)
	path := fs.String("config", "", "YAML configuration file (see config/recorder.yaml)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := recorder.DefaultConfig()
	if err := config.Load(&cfg, *path, "ATRIUM_RECORDER", os.LookupEnv); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: turnLogLevel(cfg.LogLevel)}))
	log, _, flush, err := telemetry.Setup(ctx, "recorder", log, os.LookupEnv)
	if err != nil {
		return err
	}
	defer flush()
	rec, err := recorder.New(cfg, recorder.Deps{Logger: log})
	if err != nil {
		return err
	}
	var jobs *egress.Store
	if cfg.Redis.Addr != "" {
		rdb := redis.NewClient(&redis.Options{Addr: cfg.Redis.Addr, Password: cfg.Redis.Password, DB: cfg.Redis.DB})
		defer rdb.Close()
		jobs = egress.NewStore(rdb, cfg.Redis.Prefix)
	}
	log.Info("recorder starting", "id", rec.ID(), "http", cfg.HTTP, "livekit", cfg.LiveKit.URL,
		"s3", cfg.S3.Endpoint, "bucket", cfg.S3.Bucket)
	return rec.Run(ctx, jobs)
}
