package access

import (
	"errors"
	"fmt"
	"os"

	"github.com/atrium-live/atrium/pkg/config"
)

// MinSecretLen is the shortest API secret accepted outside dev mode: an HMAC key much
// shorter than the hash is guessable offline from one captured token.
const MinSecretLen = 32

// KeySource says where a role's API keys come from. Every role that verifies tokens (SFU
// node, signal gateway) reads them the same way, so an operator configures them once.
type KeySource struct {
	Inline map[string]string // keys: from the role's config
	File   string            // key_file: a YAML map of key: secret (a mounted Secret)
	// Dev, with no keys configured, adds DevKey/DevSecret so `atrium dev` needs no setup.
	Dev               bool
	DevKey, DevSecret string
}

// Load merges the inline keys and the key file (the file wins on a clash) and, in dev mode
// with none, the development key.
func (s KeySource) Load() (Keys, error) {
	keys := make(Keys, len(s.Inline)+1)
	for k, v := range s.Inline {
		keys[k] = v
	}
	if s.File != "" {
		raw, err := os.ReadFile(s.File)
		if err != nil {
			return nil, fmt.Errorf("key file: %w", err)
		}
		var fromFile map[string]string
		if err := config.DecodeYAML(raw, &fromFile); err != nil {
			return nil, fmt.Errorf("key file %s: %w", s.File, err)
		}
		for k, v := range fromFile {
			keys[k] = v
		}
	}
	if s.Dev && len(keys) == 0 {
		keys[s.DevKey] = s.DevSecret
	}
	return keys, nil
}

// LoadValid is Load followed by the checks every role applies: at least one key, no empty
// key or secret, and outside dev mode no secret shorter than MinSecretLen.
func (s KeySource) LoadValid() (Keys, error) {
	keys, err := s.Load()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("no API keys: set keys, key_file, or dev")
	}
	for k, v := range keys {
		if k == "" || v == "" {
			return nil, fmt.Errorf("API key %q has an empty key or secret", k)
		}
		if !s.Dev && len(v) < MinSecretLen {
			return nil, fmt.Errorf("API key %q: secret shorter than %d characters", k, MinSecretLen)
		}
	}
	return keys, nil
}
