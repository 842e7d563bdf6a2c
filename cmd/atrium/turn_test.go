package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

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
