package placement

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

// TestRedisUnavailableAndBack stops the Redis server under the leases: every call fails
// with ErrUnavailable; once it is back, calls work again with the same client.
func TestRedisUnavailableAndBack(t *testing.T) {
	srv := startRedis(t)
	l := NewRedis(srv.client(t), uniquePrefix(t))
	ctx := context.Background()
	mustAcquire(t, l, "r", "a", time.Minute)

	srv.stop()
	calls := map[string]func() error{
		"Acquire":    func() error { _, err := l.Acquire(ctx, "x", "a", time.Minute); return err },
		"Renew":      func() error { _, err := l.Renew(ctx, "r", "a", time.Minute); return err },
		"Release":    func() error { return l.Release(ctx, "r", "a") },
		"Owner":      func() error { _, err := l.Owner(ctx, "r"); return err },
		"Takeover":   func() error { _, err := l.Takeover(ctx, "r", "a", "b", time.Minute); return err },
		"ReleaseAll": func() error { _, err := l.ReleaseAll(ctx, "a"); return err },
		"Rooms":      func() error { _, err := l.Rooms(ctx, 10); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s with Redis down: error = %v, want ErrUnavailable", name, err)
		}
	}

	srv.start() // an empty server: the script cache is gone too (NOSCRIPT is handled)
	mustOwner(t, l, "r", "")
	mustAcquire(t, l, "r", "b", time.Minute)
	if ok, err := l.Renew(ctx, "r", "b", time.Minute); err != nil || !ok {
		t.Fatalf("Renew after restart = %v, %v", ok, err)
	}
}

// A caller's cancelled context is its own doing, not the store's.
func TestRedisCancelledContextIsNotUnavailable(t *testing.T) {
	srv := startRedis(t)
	l := NewRedis(srv.client(t), uniquePrefix(t))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := l.Owner(ctx, "r")
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnavailable) {
		t.Errorf("Owner with a cancelled context: error = %v, want context.Canceled and not ErrUnavailable", err)
	}
}

// TestRedisKeysAndSets checks the keys behind the leases: all under the prefix, the
// node set expiring with its leases, and stale index entries dropped by Rooms.
func TestRedisKeysAndSets(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client(t)
	prefix := uniquePrefix(t)
	l := NewRedis(rdb, prefix)
	ctx := context.Background()
	mustAcquire(t, l, "r1", "a", 300*time.Millisecond)
	mustAcquire(t, l, "r2", "b", time.Minute)

	keys, err := rdb.Keys(ctx, "*").Result()
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	want := []string{prefix + "node:a", prefix + "node:b", prefix + "room:r1", prefix + "room:r2", prefix + "rooms"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys = %q, want %q", keys, want)
	}
	if pttl := rdb.PTTL(ctx, prefix+"node:a").Val(); pttl <= 0 || pttl > 300*time.Millisecond {
		t.Errorf("PTTL(node:a) = %v, want the lease's 300ms", pttl)
	}

	time.Sleep(500 * time.Millisecond) // r1 and a's node set expire
	if rooms, err := l.Rooms(ctx, 10); err != nil || len(rooms) != 1 || rooms["r2"] != "b" {
		t.Errorf("Rooms = %v, %v; want r2:b", rooms, err)
	}
	if members := rdb.SMembers(ctx, prefix+"rooms").Val(); !slices.Equal(members, []string{"r2"}) {
		t.Errorf("index after Rooms = %v, want the stale r1 dropped", members)
	}
	if n := rdb.Exists(ctx, prefix+"node:a").Val(); n != 0 {
		t.Errorf("node:a still exists after its only lease expired")
	}
}
