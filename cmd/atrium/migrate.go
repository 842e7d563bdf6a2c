package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/atrium-live/atrium/controlplane/migrations"
)

// runMigrate applies the control plane's pending database migrations (ours and River's).
func runMigrate(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	path := fs.String("config", "", "control plane YAML config file; ATRIUM_DATABASE_URL overrides its database.url")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, log, err := loadControlPlane(*path)
	if err != nil {
		return err
	}
	pool, err := pgxpool.New(ctx, cfg.Database.URL)
	if err != nil {
		return fmt.Errorf("connect database: %w", err)
	}
	defer pool.Close()
	n, err := migrations.Up(ctx, pool)
	if err != nil {
		return err
	}
	log.Info("migrations applied", "count", n)
	fmt.Printf("applied %d migration(s)\n", n)
	return nil
}
