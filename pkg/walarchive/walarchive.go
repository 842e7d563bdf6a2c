// Package walarchive keeps PostgreSQL's continuous-archiving files in S3-compatible object
// storage: WAL segments (pushed by archive_command, fetched by restore_command) and base
// backups (tar streams from pg_basebackup). It is what `atrium backup` runs; docs/backup.md
// says how PostgreSQL is configured to call it.
//
// Layout in the bucket, under an optional prefix: wal/<file name> and base/<name>.tar.
// Safe for concurrent use; it keeps no state beyond the client.
package walarchive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// ErrNotFound is returned when the requested WAL file or base backup is not in the archive.
// restore_command must then exit non-zero: PostgreSQL asks for files past the end of the
// archive to learn where it ends.
var ErrNotFound = errors.New("not in the archive")

// ErrConflict is returned when a WAL file of that name is already archived with different
// contents: PostgreSQL's documentation requires archive_command to refuse overwriting, since
// two clusters archiving to one place (or a restored cluster on the old timeline) would
// otherwise destroy the archive.
var ErrConflict = errors.New("archived with different contents")

// Config says where the archive lives. Environment names (prefix ATRIUM_BACKUP) follow the
// yaml tags, e.g. ATRIUM_BACKUP_S3_SECRET_KEY or ATRIUM_BACKUP_S3_SECRET_KEY_FILE.
type Config struct {
	S3 S3Config `yaml:"s3"`
	// Prefix is prepended to every key ("" or e.g. "atrium-prod"), so one bucket can hold
	// several clusters' archives.
	Prefix string `yaml:"prefix"`
}

// S3Config is an S3-compatible endpoint and bucket.
type S3Config struct {
	// Endpoint is host:port without scheme.
	Endpoint  string `yaml:"endpoint"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Bucket    string `yaml:"bucket"`
	Region    string `yaml:"region"`
	// TLS selects https.
	TLS bool `yaml:"tls"`
}

// Validate reports the first missing setting.
func (c Config) Validate() error {
	switch {
	case c.S3.Endpoint == "":
		return errors.New("s3.endpoint is required (ATRIUM_BACKUP_S3_ENDPOINT)")
	case c.S3.Bucket == "":
		return errors.New("s3.bucket is required (ATRIUM_BACKUP_S3_BUCKET)")
	case c.S3.AccessKey == "" || c.S3.SecretKey == "":
		return errors.New("s3.access_key and s3.secret_key are required (ATRIUM_BACKUP_S3_ACCESS_KEY, ATRIUM_BACKUP_S3_SECRET_KEY or their _FILE forms)")
	case strings.Contains(c.Prefix, ".."):
		return fmt.Errorf("prefix %q must not contain ..", c.Prefix)
	}
	return nil
}

// Archive reads and writes one cluster's archive.
type Archive struct {
	cl     *minio.Client
	bucket string
	prefix string
}

// New builds a client; it does not contact the service.
func New(c Config) (*Archive, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	region := c.S3.Region
	if region == "" {
		region = "us-east-1"
	}
	cl, err := minio.New(c.S3.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.S3.AccessKey, c.S3.SecretKey, ""),
		Secure: c.S3.TLS,
		Region: region,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", c.S3.Endpoint, err)
	}
	return &Archive{cl: cl, bucket: c.S3.Bucket, prefix: strings.Trim(c.Prefix, "/")}, nil
}

// EnsureBucket creates the bucket when it does not exist.
func (a *Archive) EnsureBucket(ctx context.Context) error {
	ok, err := a.cl.BucketExists(ctx, a.bucket)
	if err != nil {
		return fmt.Errorf("s3: bucket %s: %w", a.bucket, err)
	}
	if ok {
		return nil
	}
	if err := a.cl.MakeBucket(ctx, a.bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("s3: make bucket %s: %w", a.bucket, err)
	}
	return nil
}

// ValidWALName reports whether name is a file name PostgreSQL archives (a segment, a
// timeline history, a backup label or a partial segment): a plain name, so it can never
// address a key or path outside the archive.
func ValidWALName(name string) bool {
	base, ext, _ := strings.Cut(name, ".")
	switch ext {
	case "", "history", "partial":
	default:
		// 000000010000000000000002.00000028.backup
		off, rest, ok := strings.Cut(ext, ".")
		if !ok || rest != "backup" || !isHex(off) || len(off) != 8 {
			return false
		}
	}
	if ext == "history" {
		return len(base) == 8 && isHex(base)
	}
	return len(base) == 24 && isHex(base)
}

// ValidBaseName reports whether name can name a base backup: letters, digits, '-', '_', '.'
// (not leading), at most 100 bytes.
func ValidBaseName(name string) bool {
	if name == "" || len(name) > 100 || name[0] == '.' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}

// BaseName names a base backup taken at t: its UTC time, so names sort by age.
func BaseName(t time.Time) string { return t.UTC().Format("20060102T150405.000Z") }

func isHex(s string) bool {
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'A' && r <= 'F') {
			return false
		}
	}
	return s != ""
}

func (a *Archive) key(parts ...string) string {
	if a.prefix != "" {
		parts = append([]string{a.prefix}, parts...)
	}
	return path.Join(parts...)
}

// shaMeta is the user metadata key holding a WAL file's SHA-256, so a repeated push can tell
// an identical re-archive (PostgreSQL retries after a crash between upload and its own
// bookkeeping) from a conflicting one without downloading.
const shaMeta = "Sha256"

// PushWAL uploads the WAL file at src under name. Pushing a name that is already archived
// with identical contents succeeds (archive_command must be idempotent); with different
// contents it fails with ErrConflict.
func (a *Archive) PushWAL(ctx context.Context, src, name string) error {
	if !ValidWALName(name) {
		return fmt.Errorf("wal-push: %q is not a WAL file name", name)
	}
	data, err := os.ReadFile(src)
	if err != nil {
		return fmt.Errorf("wal-push: %w", err)
	}
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	key := a.key("wal", name)
	info, err := a.cl.StatObject(ctx, a.bucket, key, minio.StatObjectOptions{})
	switch {
	case err == nil:
		if info.UserMetadata[shaMeta] == want && info.Size == int64(len(data)) {
			return nil
		}
		return fmt.Errorf("wal-push %s: %w", name, ErrConflict)
	case !isNotFound(err):
		return fmt.Errorf("wal-push %s: stat: %w", name, err)
	}
	_, err = a.cl.PutObject(ctx, a.bucket, key, bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{
		ContentType: "application/octet-stream", UserMetadata: map[string]string{shaMeta: want},
		DisableMultipart: true, SendContentMd5: true,
	})
	if err != nil {
		return fmt.Errorf("wal-push %s: %w", name, err)
	}
	return nil
}

// FetchWAL downloads the archived WAL file name to dst (written to a temporary file in dst's
// directory and renamed, so PostgreSQL never reads a partial segment). A file not in the
// archive yields ErrNotFound.
func (a *Archive) FetchWAL(ctx context.Context, name, dst string) error {
	if !ValidWALName(name) {
		return fmt.Errorf("wal-fetch: %q is not a WAL file name", name)
	}
	o, err := a.cl.GetObject(ctx, a.bucket, a.key("wal", name), minio.GetObjectOptions{})
	if err != nil {
		return fmt.Errorf("wal-fetch %s: %w", name, err)
	}
	defer o.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".wal-fetch-*")
	if err != nil {
		return fmt.Errorf("wal-fetch %s: %w", name, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := io.Copy(tmp, o); err != nil {
		tmp.Close()
		if isNotFound(err) {
			return fmt.Errorf("wal-fetch %s: %w", name, ErrNotFound)
		}
		return fmt.Errorf("wal-fetch %s: %w", name, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("wal-fetch %s: %w", name, err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fmt.Errorf("wal-fetch %s: %w", name, err)
	}
	return nil
}

// PushBase streams a base backup tar (e.g. `pg_basebackup -D - -Ft -X fetch`) from r into
// base/<name>.tar. Names sort by time when they are UTC timestamps (BaseName does that), which
// is how LatestBase finds the newest.
func (a *Archive) PushBase(ctx context.Context, name string, r io.Reader) (int64, error) {
	if !ValidBaseName(name) {
		return 0, fmt.Errorf("base-push: %q is not a valid backup name", name)
	}
	info, err := a.cl.PutObject(ctx, a.bucket, a.key("base", name+".tar"), r, -1, minio.PutObjectOptions{
		ContentType: "application/x-tar", PartSize: 16 << 20,
	})
	if err != nil {
		return 0, fmt.Errorf("base-push %s: %w", name, err)
	}
	return info.Size, nil
}

// Bases lists the archived base backups' names, oldest first.
func (a *Archive) Bases(ctx context.Context) ([]string, error) {
	prefix := a.key("base") + "/"
	var names []string
	for o := range a.cl.ListObjects(ctx, a.bucket, minio.ListObjectsOptions{Prefix: prefix}) {
		if o.Err != nil {
			return nil, fmt.Errorf("list base backups: %w", o.Err)
		}
		if n, ok := strings.CutSuffix(strings.TrimPrefix(o.Key, prefix), ".tar"); ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// FetchBase writes base backup name ("latest" for the newest) to w and returns its name.
func (a *Archive) FetchBase(ctx context.Context, name string, w io.Writer) (string, error) {
	if name == "latest" {
		names, err := a.Bases(ctx)
		if err != nil {
			return "", err
		}
		if len(names) == 0 {
			return "", fmt.Errorf("base-fetch: no base backup: %w", ErrNotFound)
		}
		name = names[len(names)-1]
	}
	if !ValidBaseName(name) {
		return "", fmt.Errorf("base-fetch: %q is not a valid backup name", name)
	}
	o, err := a.cl.GetObject(ctx, a.bucket, a.key("base", name+".tar"), minio.GetObjectOptions{})
	if err != nil {
		return "", fmt.Errorf("base-fetch %s: %w", name, err)
	}
	defer o.Close()
	if _, err := io.Copy(w, o); err != nil {
		if isNotFound(err) {
			return "", fmt.Errorf("base-fetch %s: %w", name, ErrNotFound)
		}
		return "", fmt.Errorf("base-fetch %s: %w", name, err)
	}
	return name, nil
}

func isNotFound(err error) bool {
	code := minio.ToErrorResponse(err).Code
	return code == "NoSuchKey" || code == "NotFound"
}
