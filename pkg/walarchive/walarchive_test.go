package walarchive

import (
	"strings"
	"testing"
	"time"
)

func TestValidWALName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{"000000010000000000000002", true},
		{"00000002.history", true},
		{"000000010000000000000002.partial", true},
		{"000000010000000000000002.00000028.backup", true},
		{"", false},
		{"00000001000000000000000", false},   // 23 digits
		{"000000010000000000000002x", false}, // 25 chars
		{"000000010000000000000002.tmp", false},
		{"0000000100000000000000g2", false}, // not hex
		{"000000010000000000000002.0028.backup", false},
		{"../../etc/passwd", false},
		{"wal/000000010000000000000002", false},
		{"0000000a0000000000000002", false}, // PostgreSQL writes upper case
	} {
		if got := ValidWALName(tc.name); got != tc.want {
			t.Errorf("ValidWALName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestValidBaseName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{BaseName(time.Date(2026, 12, 7, 5, 30, 0, 0, time.UTC)), true},
		{"before-migration_42", true},
		{"", false},
		{".hidden", false},
		{"a/b", false},
		{"..", false},
		{strings.Repeat("a", 101), false},
	} {
		if got := ValidBaseName(tc.name); got != tc.want {
			t.Errorf("ValidBaseName(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBaseNamesSortByTime(t *testing.T) {
	a := BaseName(time.Date(2026, 12, 7, 9, 59, 59, 999e6, time.FixedZone("x", 3600)))
	b := BaseName(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC))
	if !(a < b) {
		t.Errorf("BaseName: %q (08:59:59.999 UTC) sorts after %q (09:00 UTC)", a, b)
	}
}

func TestValidate(t *testing.T) {
	ok := Config{S3: S3Config{Endpoint: "127.0.0.1:7070", Bucket: "wal", AccessKey: "a", SecretKey: "s"}}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate(complete) = %v", err)
	}
	for name, mutate := range map[string]func(*Config){
		"ENDPOINT":   func(c *Config) { c.S3.Endpoint = "" },
		"BUCKET":     func(c *Config) { c.S3.Bucket = "" },
		"SECRET_KEY": func(c *Config) { c.S3.SecretKey = "" },
		"..":         func(c *Config) { c.Prefix = "a/../b" },
	} {
		c := ok
		mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("Validate without %s = %v, want an error naming it", name, err)
		}
	}
}
