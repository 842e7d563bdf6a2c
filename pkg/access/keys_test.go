package access_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atrium-live/atrium/pkg/access"
)

func TestKeySource(t *testing.T) {
	long := strings.Repeat("s", access.MinSecretLen)
	file := filepath.Join(t.TempDir(), "keys.yaml")
	if err := os.WriteFile(file, []byte("filekey: "+long+"\nshared: from-file-"+long+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		src     access.KeySource
		want    access.Keys
		wantErr string
	}{
		{"inline", access.KeySource{Inline: map[string]string{"k": long}}, access.Keys{"k": long}, ""},
		{"file wins a clash", access.KeySource{Inline: map[string]string{"shared": long}, File: file},
			access.Keys{"shared": "from-file-" + long, "filekey": long}, ""},
		{"dev key only when none", access.KeySource{Dev: true, DevKey: "devkey", DevSecret: "secret"}, access.Keys{"devkey": "secret"}, ""},
		{"dev key not added to configured keys", access.KeySource{Inline: map[string]string{"k": "short"}, Dev: true, DevKey: "devkey", DevSecret: "secret"},
			access.Keys{"k": "short"}, ""},
		{"none", access.KeySource{}, nil, "no API keys"},
		{"short secret outside dev", access.KeySource{Inline: map[string]string{"k": "short"}}, nil, "shorter than 32"},
		{"empty secret", access.KeySource{Inline: map[string]string{"k": ""}, Dev: true}, nil, "empty key or secret"},
		{"missing file", access.KeySource{File: filepath.Join(t.TempDir(), "absent.yaml")}, nil, "key file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.src.LoadValid()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("keys = %v, want %v", got, tc.want)
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Fatalf("keys[%q] = %q, want %q", k, got[k], v)
				}
			}
		})
	}
}
