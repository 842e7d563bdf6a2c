package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/config"
	"github.com/atrium-live/atrium/turn"
)

// reloadTURNSecrets hands a changed pair to the relay once, skips unchanged polls, and keeps
// the current secrets when a load fails.
func TestReloadTURNSecrets(t *testing.T) {
	loads := make(chan struct {
		c   turn.AuthConfig
		err error
	})
	sets := make(chan [2]string, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		load := func() (turn.AuthConfig, error) {
			select {
			case l := <-loads:
				return l.c, l.err
			case <-ctx.Done(): // a tick after cancel must not block the loop
				return turn.AuthConfig{}, ctx.Err()
			}
		}
		set := func(c, p string) error { sets <- [2]string{c, p}; return nil }
		reloadTURNSecrets(ctx, time.Millisecond, turn.AuthConfig{Secret: "a"}, load, set, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	feed := func(c turn.AuthConfig, err error) {
		loads <- struct {
			c   turn.AuthConfig
			err error
		}{c, err}
	}
	feed(turn.AuthConfig{Secret: "a"}, nil)                                       // unchanged
	feed(turn.AuthConfig{Secret: "b", PreviousSecret: "a"}, errors.New("unsafe")) // refused
	feed(turn.AuthConfig{Secret: "b", PreviousSecret: "a"}, nil)                  // rotation starts
	feed(turn.AuthConfig{Secret: "b", PreviousSecret: "a"}, nil)                  // unchanged
	feed(turn.AuthConfig{Secret: "b"}, nil)                                       // rotation ends
	feed(turn.AuthConfig{Secret: "b"}, nil)                                       // makes sure the last set happened
	cancel()
	<-done
	close(sets)
	var got [][2]string
	for s := range sets {
		got = append(got, s)
	}
	want := [][2]string{{"b", "a"}, {"b", ""}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("secrets set = %v, want %v", got, want)
	}
}

// A previous-secret file that does not exist (a Secret without turn-previous-secret) means no
// rotation; an existing one is read.
func TestTURNPreviousSecretFileMayBeAbsent(t *testing.T) {
	dir := t.TempDir()
	prev := filepath.Join(dir, "turn-previous-secret")
	env := map[string]string{
		"ATRIUM_TURN_AUTH_SECRET":               "Zr8qM2vK7xN4pT9wL1sB6hD3fJ0gYc5E",
		"ATRIUM_TURN_AUTH_PREVIOUS_SECRET_FILE": prev,
		"ATRIUM_TURN_RELAY_EXTERNAL_IP":         "127.0.0.1",
	}
	lookup := turnLookup(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	cfg := turn.DefaultConfig()
	if err := config.Load(&cfg, "", "ATRIUM_TURN", lookup); err != nil || cfg.Auth.PreviousSecret != "" {
		t.Fatalf("missing previous-secret file: err %v, previous %q; want no error and none", err, cfg.Auth.PreviousSecret)
	}
	if err := os.WriteFile(prev, []byte("hT4nW9qZ2vB7xK1mR6pL3sD8fJ0gYc5A\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg = turn.DefaultConfig()
	if err := config.Load(&cfg, "", "ATRIUM_TURN", lookup); err != nil || cfg.Auth.PreviousSecret != "hT4nW9qZ2vB7xK1mR6pL3sD8fJ0gYc5A" {
		t.Fatalf("previous-secret file: err %v, previous %q", err, cfg.Auth.PreviousSecret)
	}
}
