package turncred

import (
	"errors"
	"testing"
	"time"
)

func TestGenerateVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	user, pass := Generate("s3cret", "alice", time.Hour, now)
	if want := "1700003600:alice"; user != want {
		t.Fatalf("Generate username = %q, want %q", user, want)
	}
	if pass != Password("s3cret", user) || pass == Password("other", user) {
		t.Fatalf("password must depend on the secret")
	}
	if id, err := Verify(user, now); err != nil || id != "alice" {
		t.Fatalf("Verify(%q) = %q, %v; want alice, nil", user, id, err)
	}
	if _, err := Verify(user, now.Add(2*time.Hour)); !errors.Is(err, ErrExpired) {
		t.Fatalf("Verify after expiry err = %v, want ErrExpired", err)
	}
	for _, bad := range []string{"", "abc:alice", "-5:x", ":alice"} {
		if _, err := Verify(bad, now); !errors.Is(err, ErrMalformed) {
			t.Errorf("Verify(%q) err = %v, want ErrMalformed", bad, err)
		}
	}
}

// Known answer computed independently with: printf '%s' 1700003600:alice | openssl dgst -sha1 -hmac s3cret -binary | base64
func TestPasswordKnownAnswer(t *testing.T) {
	const want = "YAFdW/YDZewZsR1QSgUk2IrfbRI="
	if got := Password("s3cret", "1700003600:alice"); got != want {
		t.Fatalf("Password = %q, want %q", got, want)
	}
}
