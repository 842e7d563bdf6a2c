package recorder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Config says where recordings are stored: any S3-compatible service (versitygw locally).
type S3Config struct {
	// Endpoint is host:port without scheme, e.g. "127.0.0.1:7070".
	Endpoint  string `yaml:"endpoint"`
	AccessKey string `yaml:"access_key"`
	SecretKey string `yaml:"secret_key"`
	Bucket    string `yaml:"bucket"`
	Region    string `yaml:"region"`
	// TLS selects https.
	TLS bool `yaml:"tls"`
}

// Store puts recording objects into one bucket. Safe for concurrent use.
type Store struct {
	cl     *minio.Client
	bucket string
}

// NewStore builds a client; it does not contact the service.
func NewStore(c S3Config) (*Store, error) {
	cl, err := minio.New(c.Endpoint, &minio.Options{
		Creds:  credentials.NewStaticV4(c.AccessKey, c.SecretKey, ""),
		Secure: c.TLS,
		Region: c.Region,
		// Retries are ours (see Uploader): a long outage must not block inside one call.
		MaxRetries: 1,
	})
	if err != nil {
		return nil, fmt.Errorf("s3 client for %s: %w", c.Endpoint, err)
	}
	return &Store{cl: cl, bucket: c.Bucket}, nil
}

// EnsureBucket creates the bucket when it does not exist.
func (s *Store) EnsureBucket(ctx context.Context) error {
	ok, err := s.cl.BucketExists(ctx, s.bucket)
	if err != nil {
		return fmt.Errorf("s3: bucket %s: %w", s.bucket, err)
	}
	if ok {
		return nil
	}
	if err := s.cl.MakeBucket(ctx, s.bucket, minio.MakeBucketOptions{}); err != nil {
		return fmt.Errorf("s3: make bucket %s: %w", s.bucket, err)
	}
	return nil
}

// Put stores data under key with the given content type and cache policy.
func (s *Store) Put(ctx context.Context, key string, data []byte, contentType, cacheControl string) error {
	_, err := s.cl.PutObject(ctx, s.bucket, key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{ContentType: contentType, CacheControl: cacheControl, DisableMultipart: true})
	if err != nil {
		return fmt.Errorf("s3: put %s: %w", key, err)
	}
	return nil
}

// Get reads an object (tests and takeover use it).
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	o, err := s.cl.GetObject(ctx, s.bucket, key, minio.GetObjectOptions{})
	if err != nil {
		return nil, fmt.Errorf("s3: get %s: %w", key, err)
	}
	defer o.Close()
	b, err := io.ReadAll(o)
	if err != nil {
		return nil, fmt.Errorf("s3: get %s: %w", key, err)
	}
	return b, nil
}

// Stat returns an object's content type and size.
func (s *Store) Stat(ctx context.Context, key string) (contentType string, size int64, err error) {
	info, err := s.cl.StatObject(ctx, s.bucket, key, minio.StatObjectOptions{})
	if err != nil {
		return "", 0, fmt.Errorf("s3: stat %s: %w", key, err)
	}
	return info.ContentType, info.Size, nil
}

// putter is what the uploader needs from storage.
type putter interface {
	Put(ctx context.Context, key string, data []byte, contentType, cacheControl string) error
}

// RetryPolicy bounds how an upload is retried: exponential backoff from Min to Max, for as
// long as the context allows (a storage outage must lose nothing while the disk holds).
type RetryPolicy struct {
	Min, Max time.Duration
}

// backoff returns the wait before attempt n (n ≥ 1 is the first retry).
func (p RetryPolicy) backoff(n int) time.Duration {
	d := p.Min
	for i := 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// putWithRetry stores one object, retrying until it succeeds or ctx ends; failures are
// counted and logged once per attempt.
func putWithRetry(ctx context.Context, st putter, p RetryPolicy, m *metrics, log *slog.Logger,
	key string, data []byte, contentType, cacheControl string) error {
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("upload %s abandoned after %d attempts: %w", key, attempt, ctx.Err())
			case <-time.After(p.backoff(attempt)):
			}
		}
		actx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := st.Put(actx, key, data, contentType, cacheControl)
		cancel()
		if err == nil {
			m.uploadedBytes.Add(float64(len(data)))
			return nil
		}
		if errors.Is(ctx.Err(), context.Canceled) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("upload %s: %w", key, ctx.Err())
		}
		m.uploadFailures.Inc()
		log.Warn("upload failed; will retry", "key", key, "attempt", attempt+1, "err", err)
	}
}
