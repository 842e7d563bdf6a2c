package recorder

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// Config is the whole configuration of one recorder. Load it with pkg/config: defaults from
// DefaultConfig, then YAML (config/recorder.yaml is the annotated sample), then
// ATRIUM_RECORDER_* variables (ATRIUM_RECORDER_S3_SECRET_KEY sets S3.SecretKey), then Validate.
type Config struct {
	// ID names this recorder in job leases; empty: hostname-pid-random.
	ID string `yaml:"id"`
	// HTTP serves /healthz, /readyz and /metrics. Empty disables it.
	HTTP string `yaml:"http"`
	// LiveKit is where the recorder joins rooms: an Atrium SFU node or gateway URL and a key
	// pair it accepts (the recorder mints its own hidden, recorder-granted tokens).
	LiveKit LiveKitConfig `yaml:"livekit"`
	S3      S3Config      `yaml:"s3"`
	// Redis holds recording jobs and their leases (see pkg/egress). Empty address: the
	// recorder only records what it is handed in-process (atrium dev, tests).
	Redis RedisConfig `yaml:"redis"`
	// Webhook receives LiveKit-format egress_started/updated/ended events, signed with the
	// LiveKit key pair.
	Webhook WebhookConfig `yaml:"webhook"`
	// SpoolDir holds ffmpeg's output until each file is uploaded; a storage outage fills it.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes bounds the spool; past it the recording fails rather than fill the disk.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// Segment is the target HLS segment duration. The recorder asks the publisher for a
	// keyframe this often, since ffmpeg can only cut a copied stream at keyframes.
	Segment time.Duration `yaml:"segment"`
	// AudioSlots is how many speakers' audio is mixed at once (each slot is one ffmpeg
	// input fed silence while nobody uses it). 0 records no audio.
	AudioSlots int `yaml:"audio_slots"`
	// FFmpeg is the ffmpeg binary.
	FFmpeg string `yaml:"ffmpeg"`
	// UploadRetryMin and UploadRetryMax bound the backoff between upload attempts.
	UploadRetryMin time.Duration `yaml:"upload_retry_min"`
	UploadRetryMax time.Duration `yaml:"upload_retry_max"`
	// FinishTimeout bounds how long a stopped recording keeps retrying its last uploads.
	FinishTimeout time.Duration `yaml:"finish_timeout"`
	// LeaseTTL is how long a job's lease lives without renewal: a dead recorder's recordings
	// are taken over after at most this long. Renewed every LeaseTTL/3.
	LeaseTTL time.Duration `yaml:"lease_ttl"`
	// MaxRecordings caps concurrent recordings on this recorder.
	MaxRecordings int `yaml:"max_recordings"`
	// LogLevel is debug, info, warn or error. Read by cmd/atrium, which builds the logger.
	LogLevel string `yaml:"log_level"`
}

// LiveKitConfig is how the recorder reaches rooms.
type LiveKitConfig struct {
	URL       string `yaml:"url"`
	APIKey    string `yaml:"api_key"`
	APISecret string `yaml:"api_secret"`
}

// WebhookConfig lists the egress webhook receivers.
type WebhookConfig struct {
	URLs []string `yaml:"urls"`
}

// RedisConfig locates the job store.
type RedisConfig struct {
	Addr     string `yaml:"addr"`
	Password string `yaml:"password"`
	DB       int    `yaml:"db"`
	// Prefix namespaces the keys (tests use a random one).
	Prefix string `yaml:"prefix"`
}

// DefaultConfig returns production defaults; LiveKit keys and S3 credentials have none.
func DefaultConfig() Config {
	return Config{
		HTTP:           "0.0.0.0:7890",
		LiveKit:        LiveKitConfig{URL: "ws://127.0.0.1:7880"},
		S3:             S3Config{Endpoint: "127.0.0.1:7070", Bucket: "atrium-recordings", Region: "us-east-1"},
		Redis:          RedisConfig{Addr: "127.0.0.1:6379", Prefix: "atrium:rec"},
		SpoolDir:       "/var/lib/atrium/recorder",
		SpoolMaxBytes:  10 << 30,
		Segment:        2 * time.Second,
		AudioSlots:     4,
		FFmpeg:         "ffmpeg",
		UploadRetryMin: 250 * time.Millisecond,
		UploadRetryMax: 5 * time.Second,
		FinishTimeout:  5 * time.Minute,
		LeaseTTL:       6 * time.Second,
		MaxRecordings:  20,
		LogLevel:       "info",
	}
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.LiveKit.URL); err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		errs = append(errs, fmt.Errorf("livekit.url %q: want ws:// or wss:// with a host", c.LiveKit.URL))
	}
	if c.LiveKit.APIKey == "" || c.LiveKit.APISecret == "" {
		errs = append(errs, errors.New("livekit.api_key and livekit.api_secret are required"))
	}
	if c.S3.Endpoint == "" || c.S3.Bucket == "" {
		errs = append(errs, errors.New("s3.endpoint and s3.bucket are required"))
	}
	if c.S3.AccessKey == "" || c.S3.SecretKey == "" {
		errs = append(errs, errors.New("s3.access_key and s3.secret_key are required"))
	}
	if c.SpoolDir == "" {
		errs = append(errs, errors.New("spool_dir is required"))
	}
	if c.SpoolMaxBytes <= 0 {
		errs = append(errs, errors.New("spool_max_bytes must be positive"))
	}
	if c.Segment < 500*time.Millisecond || c.Segment > 20*time.Second {
		errs = append(errs, fmt.Errorf("segment %v: want 0.5s..20s", c.Segment))
	}
	if c.UploadRetryMin <= 0 || c.UploadRetryMax < c.UploadRetryMin {
		errs = append(errs, errors.New("upload_retry_min must be positive and at most upload_retry_max"))
	}
	if c.FinishTimeout <= 0 {
		errs = append(errs, errors.New("finish_timeout must be positive"))
	}
	if c.LeaseTTL < time.Second {
		errs = append(errs, fmt.Errorf("lease_ttl %v: want at least 1s", c.LeaseTTL))
	}
	if c.AudioSlots < 0 || c.AudioSlots > 16 {
		errs = append(errs, fmt.Errorf("audio_slots %d: want 0..16", c.AudioSlots))
	}
	if c.MaxRecordings < 1 {
		errs = append(errs, errors.New("max_recordings must be at least 1"))
	}
	return errors.Join(errs...)
}
