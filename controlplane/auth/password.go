// Package auth holds the control plane's credential primitives: argon2id password hashing and
// policy, opaque random tokens stored as hashes, HS256 access JWTs, and TOTP codes. It knows
// nothing about HTTP or the database. Everything here is safe for concurrent use.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMismatch is returned by Verify when the password does not match the hash.
var ErrMismatch = errors.New("auth: password mismatch")

// HasherParams is the argon2id cost.
type HasherParams struct {
	Time      uint32
	MemoryKiB uint32
	Threads   uint8
	// MaxConcurrent bounds how many hashes run at once: each holds MemoryKiB of RAM, so an
	// unbounded burst of logins would be a memory exhaustion attack.
	MaxConcurrent int
}

// Hasher hashes and verifies passwords with argon2id (RFC 9106) in the PHC string format
// $argon2id$v=19$m=...,t=...,p=...$salt$hash, so cost can be raised without breaking old hashes.
type Hasher struct {
	p   HasherParams
	sem chan struct{}
}

// NewHasher returns a Hasher with p.
func NewHasher(p HasherParams) *Hasher {
	if p.MaxConcurrent < 1 {
		p.MaxConcurrent = 1
	}
	return &Hasher{p: p, sem: make(chan struct{}, p.MaxConcurrent)}
}

func (h *Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("auth: waiting to hash: %w", ctx.Err())
	}
}

// Hash returns the encoded argon2id hash of password with a fresh random salt.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("auth: salt: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	sum := argon2.IDKey([]byte(password), salt, h.p.Time, h.p.MemoryKiB, h.p.Threads, 32)
	<-h.sem
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.p.MemoryKiB, h.p.Time,
		h.p.Threads, enc.EncodeToString(salt), enc.EncodeToString(sum)), nil
}

// Verify reports nil if password matches encoded, ErrMismatch if not, another error if
// encoded is malformed. It uses the cost stored in encoded.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) error {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return errors.New("auth: unsupported hash format")
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return errors.New("auth: unsupported argon2 version")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return fmt.Errorf("auth: hash params: %w", err)
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return fmt.Errorf("auth: hash salt: %w", err)
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return fmt.Errorf("auth: hash sum: %w", err)
	}
	if err := h.acquire(ctx); err != nil {
		return err
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	<-h.sem
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

// DummyVerify spends the time of one verification, so a login for an unknown email takes as
// long as one with a wrong password and does not reveal which accounts exist.
func (h *Hasher) DummyVerify(ctx context.Context, password string) {
	if err := h.acquire(ctx); err != nil {
		return
	}
	argon2.IDKey([]byte(password), []byte("atrium-dummy-salt"), h.p.Time, h.p.MemoryKiB, h.p.Threads, 32)
	<-h.sem
}
