// Package secrets decides whether a role's secrets are safe to run in production: outside dev
// mode every role (control plane, SFU, gateway, TURN, recorder) refuses to start with a
// secret that is empty, too short, or one of the development values committed in config/
// (anyone who has read the repository could mint tokens with those).
//
// Each role lists its secret settings as []Setting (the config package of the role knows
// which fields are secret; this package knows what "safe" means) and calls Check before it
// serves. Check reports every unsafe secret at once, each with the environment variable and
// the mounted-file variant (NAME_FILE, see pkg/config) that set it, so an operator fixes
// them all in one pass. The package keeps no state and is safe for concurrent use.
package secrets

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MinLength is the shortest secret accepted outside dev mode: 32 bytes, the HMAC-SHA256 block
// half that RFC 7518 §3.2 asks HS256 keys to reach, and what `openssl rand -base64 32` makes.
const MinLength = 32

// Setting is one secret-bearing config field of a role.
type Setting struct {
	// Path is the field's YAML path, e.g. "auth.jwt_secret" or "keys[APIxyz]".
	Path string
	// Env is the environment variable that sets it, e.g. "ATRIUM_AUTH_JWT_SECRET"; the same
	// name with _FILE appended reads the value from a file (a mounted Kubernetes Secret).
	// Empty when the value comes from somewhere else (a key file); Hint then says where.
	Env string
	// Hint, when Env is empty, says how to set the value.
	Hint string
	// Value is the loaded value.
	Value string
	// Optional settings may be empty (the feature they protect is off); when set they must
	// still be safe.
	Optional bool
	// MinLen overrides MinLength when positive.
	MinLen int
	// ReadErr, when set, says the value could not be read (e.g. a missing key file).
	ReadErr error
}

// ErrUnsafe is wrapped by every error Check returns.
var ErrUnsafe = errors.New("unsafe secrets")

// devValues are the development secrets committed in this repository (config/*.yaml, the
// code defaults they mirror, deploy examples and LiveKit's dev pair). TestDevValuesCoverRepo
// reads config/ so a new committed secret cannot be forgotten here.
var devValues = map[string]string{
	"dev-only-secret-change-me-0123456789abcdef": "config/controlplane.yaml auth.jwt_secret",
	"dev-only-totp-key-change-me-0123456789abcd": "config/controlplane.yaml auth.totp_key",
	"dev-only-livekit-secret-0123456789abcdef":   "config/controlplane.yaml livekit.api_secret",
	"sk_test_devonly":                   "config/controlplane.yaml money.stripe.secret_key",
	"whsec_dev_only_change_me":          "config/controlplane.yaml money.stripe.webhook_secret",
	"secret":                            "LiveKit's and config/sfu.dev.yaml's devkey secret",
	"change-me-shared-with-atrium-turn": "config/sfu.yaml turn.secret",
	"change-me-to-a-long-random-secret": "an example in the docs",
	"change-me-too":                     "an example in the docs",
}

// devMarkers are substrings that only placeholder secrets contain.
var devMarkers = []string{"change-me", "changeme", "dev-only", "devonly", "dev_only", "example"}

// Problem returns why value is unsafe for s, or "" when it is safe. Pure: table-tested.
func Problem(s Setting) string {
	if s.ReadErr != nil {
		return "cannot be read (" + s.ReadErr.Error() + ")"
	}
	v := s.Value
	if v == "" {
		if s.Optional {
			return ""
		}
		return "is empty"
	}
	if where, ok := devValues[v]; ok {
		return "is the development value committed in the repository (" + where + ")"
	}
	lower := strings.ToLower(v)
	for _, m := range devMarkers {
		if strings.Contains(lower, m) {
			return fmt.Sprintf("looks like a placeholder (contains %q)", m)
		}
	}
	min := MinLength
	if s.MinLen > 0 {
		min = s.MinLen
	}
	if len(v) < min {
		return fmt.Sprintf("is %d bytes, shorter than %d", len(v), min)
	}
	if distinct(v) < 8 {
		return "has fewer than 8 distinct characters (not random)"
	}
	return ""
}

func distinct(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}

// Join returns err (a role's load or validation error, may be nil) together with what Check
// says about settings, so one failed start names every unsafe secret and the other problem.
// Roles check secrets even when validation failed, since an operator fixing a config wants
// the whole list at once.
func Join(err error, role string, settings []Setting) error {
	if serr := Check(role, settings); serr != nil {
		return errors.Join(serr, err)
	}
	return err
}

// Check returns nil when every setting is safe, otherwise one error (wrapping ErrUnsafe)
// naming role and, on one line each, every unsafe setting, what is wrong and how to set it.
// Values never appear in the message.
func Check(role string, settings []Setting) error {
	var lines []string
	for _, s := range settings {
		p := Problem(s)
		if p == "" {
			continue
		}
		how := s.Hint
		if s.Env != "" {
			how = fmt.Sprintf("set %s, or %s_FILE to a file holding it (a mounted Secret)", s.Env, s.Env)
		}
		lines = append(lines, fmt.Sprintf("  %s %s: %s", s.Path, p, how))
	}
	if len(lines) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s refuses to start outside dev mode; each secret needs a random value of at least %d bytes (e.g. `openssl rand -base64 48`):\n%s",
		ErrUnsafe, role, MinLength, strings.Join(lines, "\n"))
}

// APIKeys returns the settings for a LiveKit key set (API key → secret) loaded from keys and
// key_file, as the SFU and the gateway hold it; readErr is the key file's read error, if any.
// envPrefix names the role's variables (ATRIUM_SFU, ATRIUM_SIGNAL) in the hints.
func APIKeys(keys map[string]string, readErr error, envPrefix string) []Setting {
	hint := `put "key: secret" lines in the file named by key_file (` + envPrefix + `_KEY_FILE), e.g. a mounted Secret`
	if readErr != nil {
		return []Setting{{Path: "key_file", Hint: hint, ReadErr: readErr}}
	}
	if len(keys) == 0 {
		return []Setting{{Path: "keys", Hint: hint}}
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make([]Setting, 0, len(keys))
	for _, k := range names {
		out = append(out, Setting{Path: "keys[" + k + "]", Hint: hint, Value: keys[k]})
	}
	return out
}
