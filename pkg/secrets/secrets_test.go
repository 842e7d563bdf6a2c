package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const good = "q7Hk2vN9xL4pR8sT1wZ6yB3mC5dF0gJa" // 32 random-looking bytes

func TestProblem(t *testing.T) {
	for _, tc := range []struct {
		s    Setting
		want string // substring of the problem; "" means safe
	}{
		{Setting{Value: good}, ""},
		{Setting{Value: ""}, "is empty"},
		{Setting{Value: "", Optional: true}, ""},
		{Setting{Value: "short", Optional: true}, "shorter than 32"},
		{Setting{Value: "dev-only-secret-change-me-0123456789abcdef"}, "config/controlplane.yaml auth.jwt_secret"},
		{Setting{Value: "secret"}, "development value"},
		{Setting{Value: "sk_test_devonly"}, "money.stripe.secret_key"},
		{Setting{Value: "please-change-me-before-production-000000"}, `placeholder (contains "change-me")`},
		{Setting{Value: "x" + good + "EXAMPLE"}, "placeholder"},
		{Setting{Value: good[:31]}, "31 bytes, shorter than 32"},
		{Setting{Value: good[:20], MinLen: 16}, ""},
		{Setting{Value: strings.Repeat("ab", 20)}, "distinct characters"},
	} {
		got := Problem(tc.s)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("Problem(%+v) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestCheckNamesEverySecretWithoutValues(t *testing.T) {
	err := Check("controlplane", []Setting{
		{Path: "auth.jwt_secret", Env: "ATRIUM_AUTH_JWT_SECRET", Value: "dev-only-secret-change-me-0123456789abcdef"},
		{Path: "auth.totp_key", Env: "ATRIUM_AUTH_TOTP_KEY", Value: good},
		{Path: "livekit.api_secret", Env: "ATRIUM_LIVEKIT_API_SECRET", Value: "tooShort1"},
		{Path: "keys[APIa]", Hint: "edit the key file", Value: ""},
	})
	if !errors.Is(err, ErrUnsafe) {
		t.Fatalf("Check = %v, want ErrUnsafe", err)
	}
	msg := err.Error()
	for _, want := range []string{
		"controlplane refuses to start outside dev mode",
		"auth.jwt_secret is the development value", "set ATRIUM_AUTH_JWT_SECRET, or ATRIUM_AUTH_JWT_SECRET_FILE",
		"livekit.api_secret is 9 bytes", "keys[APIa] is empty: edit the key file",
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("Check message lacks %q:\n%s", want, msg)
		}
	}
	for _, leak := range []string{"auth.totp_key", "tooShort1", "dev-only-secret"} {
		if strings.Contains(msg, leak) {
			t.Errorf("Check message contains %q (safe setting or a value):\n%s", leak, msg)
		}
	}
	if err := Check("sfu", []Setting{{Path: "a", Value: good}}); err != nil {
		t.Errorf("Check(safe) = %v, want nil", err)
	}
}

// TestDevValuesCoverRepo walks every committed config sample and checks that each secret-like
// value in it is refused, so a new dev secret added to config/ cannot pass production.
func TestDevValuesCoverRepo(t *testing.T) {
	files, err := filepath.Glob("../../config/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no config samples found (%v)", err)
	}
	found := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		walkSecrets(&doc, "", func(path, value string) {
			found++
			if Problem(Setting{Value: value}) == "" {
				t.Errorf("%s: %s holds a committed secret that Problem accepts; add it to devValues", f, path)
			}
		})
	}
	if found < 5 {
		t.Errorf("found %d committed secrets in config/, want at least 5 (is the walk broken?)", found)
	}
}

// walkSecrets calls fn for each non-empty scalar whose key names a secret: *secret*,
// *password*, totp_key, or any entry of a "keys" map (API key → secret).
func walkSecrets(n *yaml.Node, path string, fn func(path, value string)) {
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			walkSecrets(c, path, fn)
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			p := strings.TrimPrefix(path+"."+k, ".")
			if v.Kind == yaml.ScalarNode {
				secret := strings.Contains(k, "secret") || strings.Contains(k, "password") || k == "totp_key" || strings.HasSuffix(path, "keys")
				if secret && v.Value != "" {
					fn(p, v.Value)
				}
				continue
			}
			walkSecrets(v, p, fn)
		}
	}
}

func TestJoinKeepsBothErrors(t *testing.T) {
	load := errors.New("validation failed")
	err := Join(load, "turn", []Setting{{Path: "auth.secret", Env: "ATRIUM_TURN_AUTH_SECRET", ReadErr: errors.New("no such file")}})
	if !errors.Is(err, ErrUnsafe) || !errors.Is(err, load) || !strings.Contains(err.Error(), "auth.secret cannot be read (no such file)") {
		t.Errorf("Join = %v, want both errors and the read error", err)
	}
	if err := Join(load, "turn", []Setting{{Value: good}}); err != load {
		t.Errorf("Join(safe) = %v, want the load error alone", err)
	}
	if err := Join(nil, "turn", nil); err != nil {
		t.Errorf("Join(nil, nothing) = %v", err)
	}
}
