package placement

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestHoldRenewsThenReleases(t *testing.T) {
	srv := startRedis(t)
	stores := map[string]func(t *testing.T) Leases{ // Hold runs on real time
		"memory": func(t *testing.T) Leases { return NewMemory(nil) },
		"redis":  func(t *testing.T) Leases { return NewRedis(srv.client(t), uniquePrefix(t)) },
	}
	for name, mk := range stores {
		t.Run(name, func(t *testing.T) {
			l := mk(t)
			const ttl = 300 * time.Millisecond
			mustAcquire(t, l, "r", "a", ttl)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- Hold(ctx, l, "r", "a", ttl) }()

			time.Sleep(3 * ttl) // would have expired three times over without renewals
			mustOwner(t, l, "r", "a")
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("Hold after cancel = %v, want nil", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("Hold did not return after cancel")
			}
			mustOwner(t, l, "r", "") // released
		})
	}
}

func TestHoldReportsLoss(t *testing.T) {
	l := NewMemory(nil)
	const ttl = 150 * time.Millisecond
	mustAcquire(t, l, "r", "a", ttl)
	done := make(chan error, 1)
	go func() { done <- Hold(context.Background(), l, "r", "a", ttl) }()
	time.Sleep(ttl / 2)
	if got, err := l.Takeover(context.Background(), "r", "a", "b", time.Minute); err != nil || got != "b" {
		t.Fatalf("Takeover = %q, %v", got, err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Hold after takeover = %v, want ErrLeaseLost", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Hold did not notice the takeover")
	}
	mustOwner(t, l, "r", "b") // the loser does not release the winner's lease
}

func TestHoldSurvivesStoreOutage(t *testing.T) {
	srv := startRedis(t)
	l := NewRedis(srv.client(t), uniquePrefix(t))
	const ttl = 300 * time.Millisecond
	mustAcquire(t, l, "r", "a", ttl)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- Hold(ctx, l, "r", "a", ttl) }()

	srv.stop()
	time.Sleep(ttl / 2)
	select {
	case err := <-done:
		t.Fatalf("Hold gave up during an outage: %v", err)
	default:
	}
	srv.start() // an empty Redis: the lease is gone, so the next renewal finds it lost
	select {
	case err := <-done:
		if !errors.Is(err, ErrLeaseLost) {
			t.Fatalf("Hold after the store came back empty = %v, want ErrLeaseLost", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("Hold did not notice the lost lease after the outage")
	}
}
