package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func TestHashVerify(t *testing.T) {
	h := NewHasher(HasherParams{Time: 1, MemoryKiB: 1024, Threads: 1, MaxConcurrent: 2})
	ctx := context.Background()
	enc, err := h.Hash(ctx, "a-long-passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=1024,t=1,p=1$") {
		t.Errorf("Hash = %q, want PHC argon2id", enc)
	}
	enc2, _ := h.Hash(ctx, "a-long-passphrase")
	if enc == enc2 {
		t.Error("two hashes of one password are equal: salt not random")
	}
	if err := h.Verify(ctx, enc, "a-long-passphrase"); err != nil {
		t.Errorf("Verify(right) = %v", err)
	}
	if err := h.Verify(ctx, enc, "a-long-passphrasE"); !errors.Is(err, ErrMismatch) {
		t.Errorf("Verify(wrong) = %v, want ErrMismatch", err)
	}
	// A hash made with other cost parameters still verifies (cost lives in the string).
	h2 := NewHasher(HasherParams{Time: 2, MemoryKiB: 2048, Threads: 1})
	if err := h2.Verify(ctx, enc, "a-long-passphrase"); err != nil {
		t.Errorf("Verify with other params = %v", err)
	}
	for _, bad := range []string{"", "$2a$10$abc", "$argon2id$v=19$m=x$a$b", "$argon2i$v=19$m=1,t=1,p=1$a$b"} {
		if err := h.Verify(ctx, bad, "x"); err == nil || errors.Is(err, ErrMismatch) {
			t.Errorf("Verify(%q) = %v, want a format error", bad, err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	full := NewHasher(HasherParams{Time: 1, MemoryKiB: 1024, Threads: 1, MaxConcurrent: 1})
	full.sem <- struct{}{}
	if _, err := full.Hash(cancelled, "x"); err == nil {
		t.Error("Hash waited past a cancelled context")
	}
}

func TestCheckPassword(t *testing.T) {
	for _, tc := range []struct {
		pw, email string
		ok        bool
	}{
		{"correct-horse-battery-42", "ann@atrium.test", true},
		{"short", "ann@atrium.test", false},
		{"Password123", "ann@atrium.test", false},
		{"QWERTYUIOP", "ann@atrium.test", false},
		{"1234567890", "ann@atrium.test", false},
		{"ann@atrium.test", "ann@atrium.test", false},
		{"annabelle99", "annabelle@atrium.test", false},
		{"aaaaaaaaaaaa", "x@atrium.test", false},
		{strings.Repeat("é", 65), "x@atrium.test", false}, // 130 bytes
		{"ünïcödé-pässwörd", "x@atrium.test", true},
	} {
		if got := CheckPassword(tc.pw, tc.email) == ""; got != tc.ok {
			t.Errorf("CheckPassword(%q, %q) ok = %v, want %v (%s)", tc.pw, tc.email, got, tc.ok, CheckPassword(tc.pw, tc.email))
		}
	}
}

func TestSigner(t *testing.T) {
	s := NewSigner("0123456789abcdef0123456789abcdef", "atrium", 15*time.Minute)
	now := time.Now()
	tok, exp, err := s.Issue("user-1", "sess-1", "teacher", now)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(15 * time.Minute)) {
		t.Errorf("exp = %v", exp)
	}
	c, err := s.Verify(tok, now.Add(14*time.Minute))
	if err != nil || c.Subject != "user-1" || c.SessionID != "sess-1" || c.Role != "teacher" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if _, err := s.Verify(tok, now.Add(16*time.Minute)); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("expired: %v", err)
	}
	other := NewSigner("another-secret-another-secret-000", "atrium", time.Minute)
	if _, err := other.Verify(tok, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("other secret: %v", err)
	}
	parts := strings.Split(tok, ".")
	none := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "."
	if _, err := s.Verify(none, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("alg none: %v", err)
	}
	rs, _ := jwt.NewWithClaims(jwt.SigningMethodHS384, jwt.MapClaims{"sub": "user-1", "sid": "s", "iss": "atrium",
		"aud": "atrium-api", "exp": now.Add(time.Minute).Unix()}).SignedString([]byte("0123456789abcdef0123456789abcdef"))
	if _, err := s.Verify(rs, now); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("HS384: %v", err)
	}
}

func TestOpaqueTokens(t *testing.T) {
	a, ha, err := NewOpaqueToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _, _ := NewOpaqueToken()
	if a == b || len(a) != 43 || string(HashToken(a)) != string(ha) {
		t.Errorf("tokens %q %q", a, b)
	}
}

func TestTOTP(t *testing.T) {
	secret, url, err := NewTOTPSecret("Atrium", "ann@atrium.test")
	if err != nil || !strings.HasPrefix(url, "otpauth://totp/Atrium:ann@atrium.test?") {
		t.Fatalf("NewTOTPSecret = %q, %v", url, err)
	}
	now := time.Unix(1_800_000_000, 0)
	code, _ := TOTPCode(secret, now)
	step, ok := CheckTOTP(secret, code, now)
	if !ok || step != now.Unix()/30 {
		t.Errorf("CheckTOTP(now) = %d, %v", step, ok)
	}
	if _, ok := CheckTOTP(secret, code, now.Add(30*time.Second)); !ok {
		t.Error("one step of skew refused")
	}
	if _, ok := CheckTOTP(secret, code, now.Add(90*time.Second)); ok {
		t.Error("three steps of skew accepted")
	}
	if _, ok := CheckTOTP(secret, "12345", now); ok {
		t.Error("5-digit code accepted")
	}
}

func TestSecretBox(t *testing.T) {
	box, err := NewSecretBox("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	s1, _ := box.Seal("JBSWY3DPEHPK3PXP")
	s2, _ := box.Seal("JBSWY3DPEHPK3PXP")
	if s1 == s2 || strings.Contains(s1, "JBSWY3DP") || !strings.HasPrefix(s1, "v1:") {
		t.Errorf("Seal = %q, %q", s1, s2)
	}
	if got, err := box.Open(s1); err != nil || got != "JBSWY3DPEHPK3PXP" {
		t.Errorf("Open = %q, %v", got, err)
	}
	if got, _ := box.Open("LEGACYPLAINTEXT"); got != "LEGACYPLAINTEXT" {
		t.Errorf("Open(legacy) = %q", got)
	}
	other, _ := NewSecretBox("another-key-another-key-another-k")
	if _, err := other.Open(s1); err == nil {
		t.Error("opened with the wrong key")
	}
	if _, err := box.Open("v1:!!!"); err == nil {
		t.Error("opened garbage")
	}
	if _, err := NewSecretBox("short"); err == nil {
		t.Error("short key accepted")
	}
}
