package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/pkg/walarchive"
)

const backupUsage = `usage: atrium backup [-config file] <command> [args]

PostgreSQL continuous archiving to S3-compatible storage (docs/backup.md). Settings come from
the YAML file and ATRIUM_BACKUP_* variables (ATRIUM_BACKUP_S3_ENDPOINT, _S3_BUCKET,
_S3_ACCESS_KEY, _S3_SECRET_KEY or their _FILE forms, _S3_REGION, _S3_TLS, _PREFIX).

  init                    create the bucket if it does not exist
  wal-push <path> <name>  archive_command = 'atrium backup wal-push %p %f'
  wal-fetch <name> <path> restore_command = 'atrium backup wal-fetch %f %p'
  base-push [name]        store the base backup tar read from stdin
                          (pg_basebackup -D - -Ft -X fetch | atrium backup base-push)
  base-fetch [name]       write a base backup tar (default: the latest) to stdout
  list                    list the base backups, oldest first
`

// runBackup is PostgreSQL's archive and restore commands and the base-backup transfer.
func runBackup(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.Usage = func() { _, _ = io.WriteString(fs.Output(), backupUsage) }
	path := fs.String("config", "", "YAML file with s3 and prefix (see pkg/walarchive.Config)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return flag.ErrHelp
	}
	cfg := walarchive.Config{}
	if err := config.Load(&cfg, *path, "ATRIUM_BACKUP", os.LookupEnv); err != nil {
		return err
	}
	a, err := walarchive.New(cfg)
	if err != nil {
		return err
	}
	cmd, rest := rest[0], rest[1:]
	want := map[string]int{"init": 0, "wal-push": 2, "wal-fetch": 2, "list": 0}
	if n, ok := want[cmd]; ok && len(rest) != n {
		return fmt.Errorf("%s takes %d argument(s), got %d", cmd, n, len(rest))
	}
	switch cmd {
	case "init":
		return a.EnsureBucket(ctx)
	case "wal-push":
		return a.PushWAL(ctx, rest[0], rest[1])
	case "wal-fetch":
		return a.FetchWAL(ctx, rest[0], rest[1])
	case "base-push":
		name := walarchive.BaseName(time.Now())
		if len(rest) > 0 {
			name = rest[0]
		}
		n, err := a.PushBase(ctx, name, os.Stdin)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "base backup %s stored (%d bytes)\n", name, n)
		return nil
	case "base-fetch":
		name := "latest"
		if len(rest) > 0 {
			name = rest[0]
		}
		got, err := a.FetchBase(ctx, name, os.Stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "base backup %s fetched\n", got)
		return nil
	case "list":
		names, err := a.Bases(ctx)
		if err != nil {
			return err
		}
		_, err = io.WriteString(os.Stdout, strings.Join(append(names, ""), "\n"))
		return err
	}
	return fmt.Errorf("unknown backup command %q (see atrium backup -h)", cmd)
}
