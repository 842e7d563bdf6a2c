package recordings

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config is where the recorders store recordings (the same bucket and credentials with
// read and delete rights).
type S3Config struct {
	// Endpoint is host:port without scheme; empty disables playback and deletion.
	Endpoint  string `yaml:"endpoint"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Bucket    string `yaml:"bucket"`
	Region    string `yaml:"region"`
	TLS       bool   `yaml:"tls"`
}

// errNoObject means the object asked for does not exist.
var errNoObject = errors.New("recordings: no such object")

// objects reads and deletes recording objects in one bucket. Safe for concurrent use.
type objects struct {
	cl     *minio.Client
	bucket string
}

func newObjects(c S3Config) (*objects, error) {
	cl, err := minio.New(c.Endpoint, &minio.Options{Creds: credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: c.TLS, Region: c.Region, MaxRetries: 2})
	if err != nil {
		return nil, fmt.Errorf("recordings: s3 client for %s: %w", c.Endpoint, err)
	}
	return &objects{cl: cl, bucket: c.Bucket}, nil
}

// Object is an open stored object.
type Object struct {
	io.ReadSeekCloser
	Size     int64
	Modified time.Time
}

// open returns the object at key, or errNoObject.
func (o *objects) open(ctx context.Context, key string) (Object, error) {
	obj, err := o.cl.GetObject(ctx, o.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return Object{}, fmt.Errorf("recordings: get %s: %w", key, err)
	}
	st, err := obj.Stat()
	if err != nil {
		_ = obj.Close()
		if minio.ToErrorResponse(err).Code == "NoSuchKey" {
			return Object{}, errNoObject
		}
		return Object{}, fmt.Errorf("recordings: stat %s: %w", key, err)
	}
	if strings.HasSuffix(key, ".m3u8") {
		// A live playlist is replaced while the recording runs: read it in one GET, so the
		// length served is the length of the bytes served (streaming could mix versions).
		defer obj.Close()
		raw, err := io.ReadAll(io.LimitReader(obj, maxPlaylistBytes))
		if err != nil {
			return Object{}, fmt.Errorf("recordings: read %s: %w", key, err)
		}
		return Object{ReadSeekCloser: nopCloser{bytes.NewReader(raw)}, Size: int64(len(raw)), Modified: st.LastModified}, nil
	}
	return Object{ReadSeekCloser: obj, Size: st.Size, Modified: st.LastModified}, nil
}

// maxPlaylistBytes bounds a playlist read into memory (a 10-hour recording's is ~1 MiB).
const maxPlaylistBytes = 8 << 20

type nopCloser struct{ io.ReadSeeker }

func (nopCloser) Close() error { return nil }

// removeFolder deletes every object under the playlist's folder and returns how many.
func (o *objects) removeFolder(ctx context.Context, playlistKey string) (int, error) {
	prefix := strings.TrimSuffix(path.Dir(playlistKey), "/") + "/"
	if prefix == "./" || prefix == "/" {
		return 0, fmt.Errorf("recordings: refusing to delete the folder of %q", playlistKey)
	}
	n := 0
	for info := range o.cl.ListObjects(ctx, o.bucket, minio.ListObjectsOptions{Prefix: prefix, Recursive: true}) {
		if info.Err != nil {
			return n, fmt.Errorf("recordings: list %s: %w", prefix, info.Err)
		}
		if err := o.cl.RemoveObject(ctx, o.bucket, info.Key, minio.RemoveObjectOptions{}); err != nil {
			return n, fmt.Errorf("recordings: remove %s: %w", info.Key, err)
		}
		n++
	}
	return n, nil
}
