package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

type inner struct {
	APIKey string        `yaml:"api_key"`
	TTL    time.Duration `yaml:"ttl"`
}

type sample struct {
	Port   int      `yaml:"port"`
	Dev    bool     `yaml:"dev"`
	URLs   []string `yaml:"urls"`
	Keys   inner    `yaml:"keys"`
	Ignore string   `yaml:"-"`
}

func (s *sample) Validate() error {
	if s.Port <= 0 {
		return errString("port must be positive")
	}
	return nil
}

type errString string

func (e errString) Error() string { return string(e) }

func env(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadOrder(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "c.yaml")
	if err := os.WriteFile(path, []byte("port: 9000\nkeys:\n  api_key: fromfile\n  ttl: 1m\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := sample{Port: 1, URLs: []string{"default"}}
	err := Load(&got, path, "ATRIUM", env(map[string]string{
		"ATRIUM_KEYS_API_KEY": "fromenv",
		"ATRIUM_URLS":         "a, b",
		"ATRIUM_DEV":          "true",
	}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := sample{Port: 9000, Dev: true, URLs: []string{"a", "b"}, Keys: inner{APIKey: "fromenv", TTL: time.Minute}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Load = %+v, want %+v", got, want)
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "u.yaml")
	os.WriteFile(unknown, []byte("port: 1\nprot: 2\n"), 0o600)
	tests := []struct {
		name, path string
		env        map[string]string
		want       string
	}{
		{"unknown key", unknown, nil, "prot"},
		{"missing file", filepath.Join(dir, "nope.yaml"), nil, "no such file"},
		{"bad int env", "", map[string]string{"ATRIUM_PORT": "x"}, "ATRIUM_PORT"},
		{"bad duration env", "", map[string]string{"ATRIUM_KEYS_TTL": "soon"}, "ATRIUM_KEYS_TTL"},
		{"validation", "", map[string]string{"ATRIUM_PORT": "0"}, "port must be positive"},
	}
	for _, tc := range tests {
		s := sample{Port: 1}
		err := Load(&s, tc.path, "ATRIUM", env(tc.env))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Load err = %v, want containing %q", tc.name, err, tc.want)
		}
	}
}

func TestEnvFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(path, []byte("from-a-mounted-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	got := sample{Port: 1}
	if err := Load(&got, "", "ATRIUM", env(map[string]string{"ATRIUM_KEYS_API_KEY_FILE": path})); err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got.Keys.APIKey != "from-a-mounted-file" {
		t.Errorf("ATRIUM_KEYS_API_KEY_FILE gave %q, want the file's content without its newline", got.Keys.APIKey)
	}
	for name, e := range map[string]map[string]string{
		"both set":     {"ATRIUM_KEYS_API_KEY_FILE": path, "ATRIUM_KEYS_API_KEY": "x"},
		"missing file": {"ATRIUM_KEYS_API_KEY_FILE": path + ".nope"},
	} {
		s := sample{Port: 1}
		if err := Load(&s, "", "ATRIUM", env(e)); err == nil || !strings.Contains(err.Error(), "ATRIUM_KEYS_API_KEY") {
			t.Errorf("%s: Load err = %v, want one naming ATRIUM_KEYS_API_KEY", name, err)
		}
	}
}

func TestEnvNames(t *testing.T) {
	type withMap struct {
		S sample            `yaml:"s"`
		M map[string]string `yaml:"m"`
	}
	got := EnvNames(&withMap{}, "atrium")
	want := []string{"ATRIUM_S_DEV", "ATRIUM_S_KEYS_API_KEY", "ATRIUM_S_KEYS_TTL", "ATRIUM_S_PORT", "ATRIUM_S_URLS"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EnvNames = %v, want %v", got, want)
	}
	// Every name it lists must be one ApplyEnv actually reads.
	for _, n := range got {
		read := false
		_ = ApplyEnv(&withMap{}, "ATRIUM", func(k string) (string, bool) {
			if k == n {
				read = true
			}
			return "", false
		})
		if !read {
			t.Errorf("EnvNames lists %s, which ApplyEnv never reads", n)
		}
	}
}
