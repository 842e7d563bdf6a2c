package recorder

import (
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/config"
)

// The sample in config/recorder.yaml parses strictly and, with the secrets from the
// environment, validates; its values are the defaults.
func TestSampleConfig(t *testing.T) {
	_, file, _, _ := runtime.Caller(0)
	path := filepath.Join(filepath.Dir(file), "..", "config", "recorder.yaml")
	env := map[string]string{
		"ATRIUM_RECORDER_LIVEKIT_API_KEY": "k", "ATRIUM_RECORDER_LIVEKIT_API_SECRET": "s",
		"ATRIUM_RECORDER_S3_ACCESS_KEY": "a", "ATRIUM_RECORDER_S3_SECRET_KEY": "b",
	}
	cfg := DefaultConfig()
	err := config.Load(&cfg, path, "ATRIUM_RECORDER", func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("Load(%s): %v", path, err)
	}
	want := DefaultConfig()
	want.LiveKit.APIKey, want.LiveKit.APISecret, want.S3.AccessKey, want.S3.SecretKey = "k", "s", "a", "b"
	if len(cfg.Webhook.URLs) == 0 {
		cfg.Webhook.URLs = nil // "urls: []" in the sample
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("sample differs from defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.LiveKit.APIKey, ok.LiveKit.APISecret, ok.S3.AccessKey, ok.S3.SecretKey = "k", "s", "a", "b"
	cases := []struct {
		name string
		f    func(*Config)
		want string // substring of the error; "" = valid
	}{
		{"defaults with secrets", func(*Config) {}, ""},
		{"http url", func(c *Config) { c.LiveKit.URL = "http://x" }, "livekit.url"},
		{"no keys", func(c *Config) { c.LiveKit.APISecret = "" }, "api_secret"},
		{"no s3 creds", func(c *Config) { c.S3.SecretKey = "" }, "s3.access_key"},
		{"tiny segment", func(c *Config) { c.Segment = 100 * time.Millisecond }, "segment"},
		{"backoff order", func(c *Config) { c.UploadRetryMax = time.Millisecond }, "upload_retry"},
		{"short lease", func(c *Config) { c.LeaseTTL = 10 * time.Millisecond }, "lease_ttl"},
		{"no spool", func(c *Config) { c.SpoolDir = "" }, "spool_dir"},
	}
	for _, c := range cases {
		cfg := ok
		c.f(&cfg)
		err := cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%s: Validate() = %v, want error containing %q", c.name, err, c.want)
		}
	}
}
