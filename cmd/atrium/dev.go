package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/controlplane"
	"github.com/atrium-live/atrium/controlplane/recordings"
	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/egress"
	"github.com/atrium-live/atrium/pkg/logging"
	"github.com/atrium-live/atrium/recorder"
	"github.com/atrium-live/atrium/sfu"
)

// devControlPlaneKey is the API key the dev control plane mints join tokens with and verifies
// the SFU's webhooks with. It differs from devkey, whose secret ("secret") is too short for
// the control plane's validation, so both keys are configured on the dev SFU.
const devControlPlaneKey = "devcontrolplane"

// runDev runs the whole platform for a laptop, in one process, on 127.0.0.1 only: an SFU
// (ws://127.0.0.1:7880, devkey/secret), a TURN relay (127.0.0.1:3478 UDP+TCP) whose
// credentials the SFU hands out, and the control plane with its web UI and demo data
// (http://127.0.0.1:8080) on the local PostgreSQL and Redis (`make run` starts them).
func runDev(ctx context.Context, args []string) error {
	o := sfuOptions{Dev: true}
	fs := flag.NewFlagSet("dev", flag.ContinueOnError)
	o.register(fs)
	sfuOnly := fs.Bool("sfu-only", false, "run only the SFU (no TURN, no control plane, no PostgreSQL/Redis needed)")
	sfuNodes := fs.Int("sfu-nodes", 1, "run this many SFU nodes plus a signal gateway on 127.0.0.1:7880 (docs/cluster.md)")
	cpPath := fs.String("controlplane-config", "", "control plane YAML (defaults suit scripts/services.sh)")
	noRecorder := fs.Bool("no-recorder", false, "run no recorder (recording then fails to start)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !o.Dev {
		return errors.New("atrium dev always runs in dev mode; use `atrium sfu` for production")
	}
	if *sfuOnly && *sfuNodes > 1 {
		log, err := logging.New(os.Stderr, o.LogLevel)
		if err != nil {
			return err
		}
		cfg, err := loadSFUConfig(o)
		if err != nil {
			return err
		}
		dc, err := newDevCluster(cfg, *sfuNodes, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "atrium dev: %d SFU nodes and a gateway (API key devkey, secret %q):\n", *sfuNodes, sfu.DevAPISecret)
		dc.printBanner(os.Stderr)
		return dc.run(ctx)
	}
	if *sfuOnly {
		srv, _, _, err := newSFU(o)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "atrium dev: SFU on ws://%s (API key devkey, secret %q)\n", srv.Addr(), sfu.DevAPISecret)
		return srv.Run(ctx)
	}

	cpCfg, _, err := loadControlPlane(*cpPath)
	if err != nil {
		return err
	}
	log, err := logging.New(os.Stderr, o.LogLevel)
	if err != nil {
		return err
	}
	cpCfg.Database.AutoMigrate = true
	cpCfg.SeedDemo = true
	cpCfg.LiveKit.APIKey = devControlPlaneKey

	turnSrv, turnURLs, err := newDevTURN(cpCfg.LiveKit.APISecret, log.With("role", "turn"))
	if err != nil {
		return err
	}
	cpCfg.TURN.URLs, cpCfg.TURN.Secret = turnURLs, cpCfg.LiveKit.APISecret

	sfuCfg, err := loadSFUConfig(o)
	if err != nil {
		return err
	}
	sfuCfg.Keys = map[string]string{sfu.DevAPIKey: sfu.DevAPISecret, devControlPlaneKey: cpCfg.LiveKit.APISecret}
	sfuCfg.TURN.URLs, sfuCfg.TURN.Secret = turnURLs, cpCfg.LiveKit.APISecret
	sfuCfg.Webhook.APIKey = devControlPlaneKey
	webhookURL := strings.TrimSuffix(cpCfg.HTTP.PublicURL, "/") + "/api/v1/webhooks/livekit"
	sfuCfg.Webhook.URLs = append(sfuCfg.Webhook.URLs, webhookURL)
	// Recordings: the SFU serves the Egress API over the recorders' Redis job store, and the
	// control plane reads the recorders' bucket (versitygw from scripts/services.sh).
	rec := devRecording(cpCfg)
	sfuCfg.Egress.RedisAddr, sfuCfg.Egress.RedisPassword, sfuCfg.Egress.RedisDB = cpCfg.Redis.Addr, cpCfg.Redis.Password, cpCfg.Redis.DB
	sfuCfg.Egress.KeyPrefix, sfuCfg.Egress.Bucket = rec.Redis.Prefix, rec.S3.Bucket
	if cpCfg.Recording.S3.Endpoint == "" {
		cpCfg.Recording.S3 = recordings.S3Config{Endpoint: rec.S3.Endpoint, AccessKey: rec.S3.AccessKey,
			SecretKey: rec.S3.SecretKey, Bucket: rec.S3.Bucket, Region: rec.S3.Region}
	}
	var (
		sfuSrv  *sfu.Server
		cluster *devCluster
		runSFUs func(context.Context) error
	)
	if *sfuNodes > 1 {
		if cluster, err = newDevCluster(sfuCfg, *sfuNodes, log); err != nil {
			return err
		}
		cpCfg.LiveKit.URL = "ws://" + cluster.gateway.Addr().String()
		runSFUs = cluster.run
	} else {
		if sfuSrv, err = sfu.New(sfuCfg, sfu.Deps{Logger: log.With("role", "sfu")}); err != nil {
			return fmt.Errorf("dev SFU: %w", err)
		}
		cpCfg.LiveKit.URL = "ws://" + sfuSrv.Addr().String()
		runSFUs = sfuSrv.Run
	}

	if err := ensureDatabase(ctx, cpCfg.Database.URL); err != nil {
		return err
	}
	cp, err := controlplane.New(ctx, cpCfg, controlplane.Deps{Log: log.With("role", "controlplane"), UI: controlplane.NewUI(cpCfg.UI)})
	if err != nil {
		return fmt.Errorf("dev control plane: %w", err)
	}
	demo, err := controlplane.SeedDemo(ctx, cp)
	if err != nil {
		cp.Close()
		return err
	}
	ln, err := net.Listen("tcp", cpCfg.HTTP.Addr)
	if err != nil {
		cp.Close()
		return fmt.Errorf("dev control plane: listen %s: %w", cpCfg.HTTP.Addr, err)
	}

	roles := 3
	var recSrv *recorder.Server
	if !*noRecorder {
		rec.LiveKit.URL = cpCfg.LiveKit.URL
		rec.Webhook.URLs = []string{webhookURL}
		if recSrv, err = newDevRecorder(rec, log.With("role", "recorder")); err != nil {
			cp.Close()
			return err
		}
		roles++
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, roles)
	run := func(name string, f func(context.Context) error) {
		go func() {
			if err := f(ctx); err != nil {
				errs <- fmt.Errorf("%s: %w", name, err)
				return
			}
			errs <- nil
		}()
	}
	run("sfu", runSFUs)
	run("turn", turnSrv.Run)
	run("controlplane", func(ctx context.Context) error { return cp.Run(ctx, ln) })
	if recSrv != nil {
		rdb := redis.NewClient(&redis.Options{Addr: cpCfg.Redis.Addr, Password: cpCfg.Redis.Password, DB: cpCfg.Redis.DB})
		defer rdb.Close()
		run("recorder", func(ctx context.Context) error { return recSrv.Run(ctx, egress.NewStore(rdb, rec.Redis.Prefix)) })
	}

	demo.Print(os.Stdout)
	printDevBanner(os.Stdout, cpCfg.LiveKit.URL, turnURLs, cpCfg.HTTP.PublicURL)
	if recSrv != nil {
		fmt.Fprintf(os.Stdout, "  recorder         HLS to s3://%s at %s (spool %s)\n\n", rec.S3.Bucket, rec.S3.Endpoint, rec.SpoolDir)
	}
	if cluster != nil {
		cluster.printBanner(os.Stdout)
	}

	// The first role to stop (with or without error) stops the others.
	var first error
	for i := 0; i < roles; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
			log.Error("atrium dev: role stopped", "err", err)
		}
		cancel()
	}
	return first
}

// devRecording is the dev recorder's configuration: versitygw as scripts/services.sh starts
// it (keys from ATRIUM_S3_ACCESS_KEY / ATRIUM_S3_SECRET_KEY), jobs in the control plane's
// Redis under its key prefix, the control plane's LiveKit key pair (the dev SFU accepts it),
// a spool under .run, and no HTTP listener; ATRIUM_RECORDER_* variables still override.
func devRecording(cp controlplane.Config) recorder.Config {
	c := recorder.DefaultConfig()
	c.HTTP = ""
	c.LiveKit.APIKey, c.LiveKit.APISecret = cp.LiveKit.APIKey, cp.LiveKit.APISecret
	c.S3.AccessKey, c.S3.SecretKey = envOr("ATRIUM_S3_ACCESS_KEY", "atrium"), envOr("ATRIUM_S3_SECRET_KEY", "atrium-dev-secret")
	c.Redis = recorder.RedisConfig{Addr: cp.Redis.Addr, Password: cp.Redis.Password, DB: cp.Redis.DB, Prefix: cp.Redis.KeyPrefix + "rec"}
	c.SpoolDir = filepath.Join(".run", "recorder")
	c.LogLevel = "warn"
	return c
}

// newDevRecorder applies ATRIUM_RECORDER_* overrides to c and builds the recorder.
func newDevRecorder(c recorder.Config, log *slog.Logger) (*recorder.Server, error) {
	if err := config.ApplyEnv(&c, "ATRIUM_RECORDER", os.LookupEnv); err != nil {
		return nil, fmt.Errorf("dev recorder: %w", err)
	}
	if _, err := exec.LookPath(c.FFmpeg); err != nil {
		return nil, fmt.Errorf("dev recorder needs ffmpeg (scripts/services.sh installs it, or pass --no-recorder): %w", err)
	}
	if err := os.MkdirAll(c.SpoolDir, 0o755); err != nil {
		return nil, fmt.Errorf("dev recorder spool: %w", err)
	}
	srv, err := recorder.New(c, recorder.Deps{Logger: log})
	if err != nil {
		return nil, fmt.Errorf("dev recorder: %w", err)
	}
	return srv, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

func printDevBanner(w io.Writer, sfuURL string, turnURLs []string, cpURL string) {
	fmt.Fprintf(w, "Atrium dev is up (127.0.0.1 only):\n")
	fmt.Fprintf(w, "  web UI and API   %s   (API spec: %s/api/openapi.json)\n", cpURL, strings.TrimSuffix(cpURL, "/"))
	fmt.Fprintf(w, "  SFU (LiveKit)    %s   API key %s, secret %s\n", sfuURL, sfu.DevAPIKey, sfu.DevAPISecret)
	fmt.Fprintf(w, "  TURN             %s\n", strings.Join(turnURLs, "  "))
	fmt.Fprintf(w, "  mint a token     ./bin/atrium token create --room demo --identity you\n")
	fmt.Fprintf(w, "  mail (mailpit)   http://127.0.0.1:8025\n\n")
}

// ensureDatabase creates the database named in dbURL when it does not exist yet, connecting
// to the server's "postgres" database to do so, so a fresh machine needs no manual step.
func ensureDatabase(ctx context.Context, dbURL string) error {
	u, err := url.Parse(dbURL)
	if err != nil {
		return fmt.Errorf("database url: %w", err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	if name == "" || name == "postgres" {
		return nil
	}
	admin := *u
	admin.Path = "/postgres"
	conn, err := pgx.Connect(ctx, admin.String())
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL at %s (is it running? `make services` starts it): %w", u.Host, err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %q: %w", name, err)
	}
	if exists {
		return nil
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return fmt.Errorf("create database %q: %w", name, err)
	}
	return nil
}
