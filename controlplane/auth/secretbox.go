package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretBox encrypts small secrets at rest (TOTP seeds) with AES-256-GCM, so a copy of the
// database alone does not yield second factors. Sealed values look like "v1:<base64>";
// Open passes values without that prefix through unchanged (rows written before encryption).
type SecretBox struct{ aead cipher.AEAD }

// NewSecretBox derives the AES-256 key from keyMaterial (at least 32 bytes) with SHA-256
// under a fixed label, so one configured secret never serves two purposes unchanged.
func NewSecretBox(keyMaterial string) (*SecretBox, error) {
	if len(keyMaterial) < 32 {
		return nil, errors.New("auth: secret box key material must be at least 32 bytes")
	}
	key := sha256.Sum256([]byte("atrium/secretbox/v1\x00" + keyMaterial))
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("auth: secret box: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("auth: secret box: %w", err)
	}
	return &SecretBox{aead: aead}, nil
}

// Seal encrypts plaintext.
func (b *SecretBox) Seal(plaintext string) (string, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("auth: nonce: %w", err)
	}
	return "v1:" + base64.RawStdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, []byte(plaintext), nil)), nil
}

// Open decrypts a value from Seal.
func (b *SecretBox) Open(sealed string) (string, error) {
	raw, ok := strings.CutPrefix(sealed, "v1:")
	if !ok {
		return sealed, nil
	}
	data, err := base64.RawStdEncoding.DecodeString(raw)
	if err != nil || len(data) < b.aead.NonceSize() {
		return "", errors.New("auth: sealed value is malformed")
	}
	n := b.aead.NonceSize()
	out, err := b.aead.Open(nil, data[:n], data[n:], nil)
	if err != nil {
		return "", errors.New("auth: sealed value does not open with this key")
	}
	return string(out), nil
}
