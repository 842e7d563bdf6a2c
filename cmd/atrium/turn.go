package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/secrets"
	"github.com/atrium-live/atrium/pkg/telemetry"
	"github.com/atrium-live/atrium/turn"
)

// runTURN runs the TURN relay: defaults, then --config YAML, then ATRIUM_TURN_* environment
// (ATRIUM_TURN_AUTH_SECRET carries the secret shared with the SFU), then validation. It serves
// until ctx is cancelled (SIGINT/SIGTERM) and then drains (see turn.Server.Run).
func runTURN(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("turn", flag.ContinueOnError)
	path := fs.String("config", "", "YAML configuration file (see config/turn.yaml)")
	reload := fs.Duration("secrets-reload", 30*time.Second, "re-read auth.secret and auth.previous_secret (file, environment, *_FILE) this often, so a rotation needs no restart; 0 disables")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := turn.DefaultConfig()
	// `atrium turn` has no dev mode (`atrium dev` builds its relay with newDevTURN), so its
	// secret is always checked, even when validation failed (to name it along).
	err := config.Load(&cfg, *path, "ATRIUM_TURN", turnLookup(os.LookupEnv))
	if err := secrets.Join(err, "atrium turn", cfg.Secrets()); err != nil {
		return err
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: turnLogLevel(cfg.LogLevel)}))
	log, _, flush, err := telemetry.Setup(ctx, "turn", log, os.LookupEnv)
	if err != nil {
		return err
	}
	defer flush()
	srv, err := turn.New(cfg, turn.Deps{Logger: log})
	if err != nil {
		return err
	}
	if *reload > 0 {
		load := func() (turn.AuthConfig, error) {
			c := turn.DefaultConfig()
			err := config.Load(&c, *path, "ATRIUM_TURN", turnLookup(os.LookupEnv))
			return c.Auth, secrets.Join(err, "atrium turn", c.Secrets())
		}
		go reloadTURNSecrets(ctx, *reload, cfg.Auth, load, srv.SetSecrets, log)
	}
	return srv.Run(ctx)
}

// reloadTURNSecrets polls load every interval and hands changed secrets to set. A load that
// fails (a half-written file, an unsafe secret) keeps the secrets in use and is logged.
// Kubernetes updates mounted Secret files in place, so a rotation reaches a running relay
// without a restart that would drop its allocations.
func reloadTURNSecrets(ctx context.Context, interval time.Duration, cur turn.AuthConfig,
	load func() (turn.AuthConfig, error), set func(current, previous string) error, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		next, err := load()
		if err != nil {
			log.Warn("turn: secrets not reloaded, keeping the current ones", "err", err)
			continue
		}
		if next.Secret == cur.Secret && next.PreviousSecret == cur.PreviousSecret {
			continue
		}
		if err := set(next.Secret, next.PreviousSecret); err != nil {
			log.Warn("turn: secrets not reloaded", "err", err)
			continue
		}
		cur = next
		log.Info("turn: shared secrets reloaded", "previous_secret_accepted", next.PreviousSecret != "")
	}
}

// turnLookup treats ATRIUM_TURN_AUTH_PREVIOUS_SECRET_FILE naming a file that does not exist
// as unset: the chart always points it at the Secret's turn-previous-secret key, and a Secret
// without that key (no rotation ever made) must not stop the relay.
func turnLookup(lookup func(string) (string, bool)) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := lookup(k)
		if ok && k == "ATRIUM_TURN_AUTH_PREVIOUS_SECRET_FILE" {
			if _, err := os.Stat(v); errors.Is(err, fs.ErrNotExist) {
				return "", false
			}
		}
		return v, ok
	}
}

func turnLogLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// newDevTURN builds (without running) the relay `atrium dev` starts next to the SFU, on
// 127.0.0.1:3478 UDP and TCP with loopback peers allowed (ATRIUM_TURN_* variables override it). secret must equal the SFU's
// turn.secret; urls go into the SFU's turn.urls so JoinResponse.ice_servers points here.
func newDevTURN(secret string, log *slog.Logger) (srv *turn.Server, urls []string, err error) {
	cfg := turn.DevConfig()
	cfg.Auth.Secret = secret
	if err := config.ApplyEnv(&cfg, "ATRIUM_TURN", os.LookupEnv); err != nil {
		return nil, nil, fmt.Errorf("dev TURN relay: %w", err)
	}
	srv, err = turn.New(cfg, turn.Deps{Logger: log})
	if err != nil {
		return nil, nil, fmt.Errorf("dev TURN relay: %w", err)
	}
	return srv, turn.ICEURLs(srv.Addrs(), ""), nil
}
