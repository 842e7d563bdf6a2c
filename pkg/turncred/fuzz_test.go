package turncred

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerify: TURN usernames come from the network (STUN USERNAME attribute). Verify never
// panics, fails with ErrMalformed or ErrExpired, and whatever Generate makes round-trips.
func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	for _, s := range []string{"1800000600:alice", "1800000600", "0:x", "-1:x", ":", "", "99999999999999999999:x",
		"1800000600:a:b", "abc:def", "1800000600:" + strings.Repeat("z", 600)} {
		f.Add(s, "alice")
	}
	f.Fuzz(func(t *testing.T, username, identity string) {
		id, err := Verify(username, now)
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrExpired) {
			t.Fatalf("Verify(%q) = %v: not a documented error", username, err)
		}
		if err == nil && !strings.HasSuffix(username, id) {
			t.Fatalf("Verify(%q) = identity %q, not the username's tail", username, id)
		}
		u, p := Generate("secret", identity, time.Hour, now)
		got, err := Verify(u, now)
		if err != nil || got != identity {
			t.Fatalf("Generate/Verify(%q) = %q, %v", identity, got, err)
		}
		if p != Password("secret", u) {
			t.Fatal("Password differs from Generate's")
		}
	})
}
