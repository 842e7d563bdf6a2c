package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/atrium-live/atrium/pkg/walarchive"
	"github.com/atrium-live/atrium/recorder/s3test"
)

// TestWALArchiveAgainstS3 runs the archive's contract against a real S3 server (versitygw):
// an identical re-push succeeds, a conflicting one is refused, fetch returns the bytes, a
// missing segment is ErrNotFound (how restore_command tells PostgreSQL the archive ended),
// and "latest" is the newest base backup.
func TestWALArchiveAgainstS3(t *testing.T) {
	s := s3test.Serve(t)
	ctx := context.Background()
	a, err := walarchive.New(walarchive.Config{Prefix: "cluster-a", S3: walarchive.S3Config{
		Endpoint: s.Addr(), AccessKey: s.Access, SecretKey: s.Secret, Bucket: "wal-test"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.EnsureBucket(ctx); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	seg := filepath.Join(dir, "seg")
	data := bytes.Repeat([]byte("wal!"), 4096)
	if err := os.WriteFile(seg, data, 0o600); err != nil {
		t.Fatal(err)
	}
	const name = "000000010000000000000003"
	if err := a.PushWAL(ctx, seg, name); err != nil {
		t.Fatalf("PushWAL: %v", err)
	}
	if err := a.PushWAL(ctx, seg, name); err != nil {
		t.Fatalf("PushWAL of identical contents again = %v, want nil (archive_command must be idempotent)", err)
	}
	other := filepath.Join(dir, "other")
	if err := os.WriteFile(other, append([]byte("X"), data[1:]...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := a.PushWAL(ctx, other, name); !errors.Is(err, walarchive.ErrConflict) {
		t.Fatalf("PushWAL of different contents under an archived name = %v, want ErrConflict", err)
	}
	got := filepath.Join(dir, "restored")
	if err := a.FetchWAL(ctx, name, got); err != nil {
		t.Fatalf("FetchWAL: %v", err)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, data) {
		t.Fatalf("FetchWAL returned %d bytes that differ from the %d pushed", len(b), len(data))
	}
	missing := filepath.Join(dir, "missing")
	if err := a.FetchWAL(ctx, "000000010000000000000004", missing); !errors.Is(err, walarchive.ErrNotFound) {
		t.Fatalf("FetchWAL of an unarchived segment = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Fatalf("FetchWAL of an unarchived segment left a file at the destination: %v", err)
	}
	if err := a.PushWAL(ctx, seg, "../escape"); err == nil {
		t.Fatal("PushWAL accepted a name that is not a WAL file name")
	}

	if _, err := a.FetchBase(ctx, "latest", &bytes.Buffer{}); !errors.Is(err, walarchive.ErrNotFound) {
		t.Fatalf("FetchBase(latest) with no backups = %v, want ErrNotFound", err)
	}
	for _, b := range []string{"20261207T010000.000Z", "20261207T030000.000Z", "20261207T020000.000Z"} {
		if _, err := a.PushBase(ctx, b, bytes.NewReader([]byte("tar of "+b))); err != nil {
			t.Fatalf("PushBase(%s): %v", b, err)
		}
	}
	var buf bytes.Buffer
	latest, err := a.FetchBase(ctx, "latest", &buf)
	if err != nil || latest != "20261207T030000.000Z" || buf.String() != "tar of 20261207T030000.000Z" {
		t.Fatalf("FetchBase(latest) = %q, %q, %v; want the 03:00 backup", latest, buf.String(), err)
	}
}

func TestBackupCommandArguments(t *testing.T) {
	t.Setenv("ATRIUM_BACKUP_S3_ENDPOINT", "127.0.0.1:1")
	t.Setenv("ATRIUM_BACKUP_S3_BUCKET", "b")
	t.Setenv("ATRIUM_BACKUP_S3_ACCESS_KEY", "a")
	t.Setenv("ATRIUM_BACKUP_S3_SECRET_KEY", "s")
	for _, args := range [][]string{{"wal-push", "only-one"}, {"wal-fetch"}, {"frobnicate"}} {
		if err := runBackup(context.Background(), args); err == nil {
			t.Errorf("atrium backup %v = nil, want an error", args)
		}
	}
	t.Setenv("ATRIUM_BACKUP_S3_BUCKET", "")
	if err := runBackup(context.Background(), []string{"init"}); err == nil {
		t.Error("atrium backup init without a bucket = nil, want an error naming ATRIUM_BACKUP_S3_BUCKET")
	}
}
