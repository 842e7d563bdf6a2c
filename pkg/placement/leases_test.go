package placement

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// fakeClock is the clock of the memory leases in tests: time moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// leasesCase is one Leases implementation under the contract test: a fresh store per
// call, how to let time pass for it, and the ttl its expiry cases use.
type leasesCase struct {
	name string
	make func(t *testing.T) (Leases, func(time.Duration))
	ttl  time.Duration
}

func leaseImplementations(t *testing.T) []leasesCase {
	srv := startRedis(t)
	return []leasesCase{
		{"memory", func(t *testing.T) (Leases, func(time.Duration)) {
			clk := newFakeClock()
			return NewMemory(clk.Now), clk.Advance
		}, time.Second},
		{"redis", func(t *testing.T) (Leases, func(time.Duration)) {
			return NewRedis(srv.client(t), uniquePrefix(t)), time.Sleep
		}, 400 * time.Millisecond},
	}
}

// TestLeasesContract runs the same cases against every implementation.
func TestLeasesContract(t *testing.T) {
	ctx := context.Background()
	long := time.Minute
	for _, impl := range leaseImplementations(t) {
		t.Run(impl.name, func(t *testing.T) {
			t.Run("acquire once", func(t *testing.T) {
				l, _ := impl.make(t)
				mustOwner(t, l, "r", "")
				if got, err := l.Acquire(ctx, "r", "a", long); err != nil || got != "a" {
					t.Fatalf("Acquire(r, a) = %q, %v; want a", got, err)
				}
				if got, err := l.Acquire(ctx, "r", "b", long); err != nil || got != "a" {
					t.Fatalf("Acquire(r, b) on a's room = %q, %v; want a", got, err)
				}
				if got, err := l.Acquire(ctx, "r", "a", long); err != nil || got != "a" {
					t.Fatalf("Acquire(r, a) again = %q, %v; want a", got, err)
				}
				mustOwner(t, l, "r", "a")
				mustOwner(t, l, "other", "")
			})
			t.Run("renew and release only by owner", func(t *testing.T) {
				l, _ := impl.make(t)
				mustAcquire(t, l, "r", "a", long)
				if ok, err := l.Renew(ctx, "r", "b", long); err != nil || ok {
					t.Errorf("Renew by non-owner = %v, %v; want false", ok, err)
				}
				if ok, err := l.Renew(ctx, "r", "a", long); err != nil || !ok {
					t.Errorf("Renew by owner = %v, %v; want true", ok, err)
				}
				if err := l.Release(ctx, "r", "b"); err != nil {
					t.Fatalf("Release by non-owner: %v", err)
				}
				mustOwner(t, l, "r", "a")
				if err := l.Release(ctx, "r", "a"); err != nil {
					t.Fatalf("Release by owner: %v", err)
				}
				mustOwner(t, l, "r", "")
				if ok, err := l.Renew(ctx, "r", "a", long); err != nil || ok {
					t.Errorf("Renew after release = %v, %v; want false", ok, err)
				}
				if err := l.Release(ctx, "never", "a"); err != nil {
					t.Errorf("Release of an unowned room: %v", err)
				}
			})
			t.Run("expiry", func(t *testing.T) {
				l, advance := impl.make(t)
				mustAcquire(t, l, "r", "a", impl.ttl)
				advance(impl.ttl * 6 / 10)
				if ok, err := l.Renew(ctx, "r", "a", impl.ttl); err != nil || !ok {
					t.Fatalf("Renew before expiry = %v, %v; want true", ok, err)
				}
				advance(impl.ttl * 6 / 10)
				mustOwner(t, l, "r", "a") // renewed: 1.2 ttl after acquire, still held
				advance(impl.ttl)
				mustOwner(t, l, "r", "")
				if ok, err := l.Renew(ctx, "r", "a", impl.ttl); err != nil || ok {
					t.Errorf("Renew after expiry = %v, %v; want false", ok, err)
				}
				mustAcquire(t, l, "r", "b", long)
				if rooms, err := l.Rooms(ctx, 10); err != nil || len(rooms) != 1 || rooms["r"] != "b" {
					t.Errorf("Rooms after expiry and re-acquire = %v, %v; want r:b", rooms, err)
				}
			})
			t.Run("takeover only from the named owner", func(t *testing.T) {
				l, _ := impl.make(t)
				mustAcquire(t, l, "r", "a", long)
				if got, err := l.Takeover(ctx, "r", "b", "c", long); err != nil || got != "a" {
					t.Fatalf("Takeover(from b) of a's room = %q, %v; want a (unchanged)", got, err)
				}
				mustOwner(t, l, "r", "a")
				if got, err := l.Takeover(ctx, "r", "a", "c", long); err != nil || got != "c" {
					t.Fatalf("Takeover(from a to c) = %q, %v; want c", got, err)
				}
				mustOwner(t, l, "r", "c")
				if ok, _ := l.Renew(ctx, "r", "a", long); ok {
					t.Errorf("old owner a could still renew after the takeover")
				}
				if n, err := l.ReleaseAll(ctx, "a"); err != nil || n != 0 {
					t.Errorf("ReleaseAll(a) after its room was taken over = %d, %v; want 0", n, err)
				}
				mustOwner(t, l, "r", "c")
				if got, err := l.Takeover(ctx, "free", "a", "c", long); err != nil || got != "c" {
					t.Errorf("Takeover of an unowned room = %q, %v; want c", got, err)
				}
			})
			t.Run("release all", func(t *testing.T) {
				l, _ := impl.make(t)
				for i := range 3 {
					mustAcquire(t, l, fmt.Sprintf("a%d", i), "a", long)
				}
				mustAcquire(t, l, "b0", "b", long)
				if n, err := l.ReleaseAll(ctx, "a"); err != nil || n != 3 {
					t.Fatalf("ReleaseAll(a) = %d, %v; want 3", n, err)
				}
				for i := range 3 {
					mustOwner(t, l, fmt.Sprintf("a%d", i), "")
				}
				mustOwner(t, l, "b0", "b")
				if n, err := l.ReleaseAll(ctx, "a"); err != nil || n != 0 {
					t.Errorf("second ReleaseAll(a) = %d, %v; want 0", n, err)
				}
				mustAcquire(t, l, "a0", "a", long) // a node may come back after ReleaseAll
				if n, err := l.ReleaseAll(ctx, "a"); err != nil || n != 1 {
					t.Errorf("ReleaseAll(a) after re-acquire = %d, %v; want 1", n, err)
				}
			})
			t.Run("rooms", func(t *testing.T) {
				l, advance := impl.make(t)
				want := map[string]string{}
				for i := range 5 {
					room, node := fmt.Sprintf("room-%d", i), fmt.Sprintf("n%d", i%2)
					mustAcquire(t, l, room, node, long)
					want[room] = node
				}
				mustAcquire(t, l, "short", "n9", impl.ttl)
				advance(impl.ttl * 3 / 2)
				got, err := l.Rooms(ctx, 100)
				if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("Rooms(100) = %v, %v; want %v", got, err, want)
				}
				got, err = l.Rooms(ctx, 2)
				if err != nil || len(got) != 2 {
					t.Errorf("Rooms(2) = %v, %v; want 2 rooms", got, err)
				}
				for room, owner := range got {
					if want[room] != owner {
						t.Errorf("Rooms(2) lists %s:%s, want owner %q", room, owner, want[room])
					}
				}
				if _, err := l.Rooms(ctx, 0); !errors.Is(err, ErrInvalid) {
					t.Errorf("Rooms(0) error = %v, want ErrInvalid", err)
				}
			})
			t.Run("bad arguments", func(t *testing.T) {
				l, _ := impl.make(t)
				if _, err := l.Acquire(ctx, "", "a", long); !errors.Is(err, ErrInvalid) {
					t.Errorf("Acquire(empty room) error = %v, want ErrInvalid", err)
				}
				if _, err := l.Acquire(ctx, "r", "", long); !errors.Is(err, ErrInvalid) {
					t.Errorf("Acquire(empty node) error = %v, want ErrInvalid", err)
				}
				if _, err := l.Acquire(ctx, "r", "a", 0); !errors.Is(err, ErrInvalid) {
					t.Errorf("Acquire(ttl 0) error = %v, want ErrInvalid", err)
				}
				if _, err := l.Takeover(ctx, "r", "", "b", long); !errors.Is(err, ErrInvalid) {
					t.Errorf("Takeover(empty from) error = %v, want ErrInvalid", err)
				}
				mustOwner(t, l, "r", "")
			})
			t.Run("racing acquirers get one owner", func(t *testing.T) {
				l, _ := impl.make(t)
				const n = 100
				owners := make([]string, n)
				errs := make([]error, n)
				var wg sync.WaitGroup
				for i := range n {
					wg.Go(func() {
						owners[i], errs[i] = l.Acquire(ctx, "hot", fmt.Sprintf("node-%d", i), long)
					})
				}
				wg.Wait()
				winner, _ := l.Owner(ctx, "hot")
				if winner == "" {
					t.Fatal("no owner after 100 racing acquires")
				}
				for i := range n {
					if errs[i] != nil || owners[i] != winner {
						t.Fatalf("acquirer %d got %q, %v; want %q like everyone", i, owners[i], errs[i], winner)
					}
				}
			})
		})
	}
}

func mustAcquire(t *testing.T, l Leases, room, node string, ttl time.Duration) {
	t.Helper()
	if got, err := l.Acquire(context.Background(), room, node, ttl); err != nil || got != node {
		t.Fatalf("Acquire(%s, %s) = %q, %v; want %s", room, node, got, err, node)
	}
}

func mustOwner(t *testing.T, l Leases, room, want string) {
	t.Helper()
	if got, err := l.Owner(context.Background(), room); err != nil || got != want {
		t.Fatalf("Owner(%s) = %q, %v; want %q", room, got, err, want)
	}
}
