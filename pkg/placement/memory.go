package placement

import (
	"context"
	"sort"
	"sync"
	"time"
)

// NewMemory returns Leases kept in this process, with the same semantics as NewRedis
// (expiry included), for single-node use (atrium dev) and tests. now is the clock
// (time.Now if nil); expired leases are dropped lazily when touched.
func NewMemory(now func() time.Time) Leases {
	if now == nil {
		now = time.Now
	}
	return &memLeases{now: now, rooms: make(map[string]memLease)}
}

type memLease struct {
	owner   string
	expires time.Time
}

type memLeases struct {
	now   func() time.Time
	mu    sync.Mutex
	rooms map[string]memLease
}

// ownerLocked returns room's unexpired owner, dropping an expired lease. mu is held.
func (m *memLeases) ownerLocked(room string) string {
	l, ok := m.rooms[room]
	if !ok {
		return ""
	}
	if !m.now().Before(l.expires) {
		delete(m.rooms, room)
		return ""
	}
	return l.owner
}

func (m *memLeases) Acquire(ctx context.Context, room, node string, ttl time.Duration) (string, error) {
	if err := checkArgs(ctx, "acquire", room, ttl, node); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.ownerLocked(room); cur != "" {
		return cur, nil
	}
	m.rooms[room] = memLease{owner: node, expires: m.now().Add(ttl)}
	return node, nil
}

func (m *memLeases) Renew(ctx context.Context, room, node string, ttl time.Duration) (bool, error) {
	if err := checkArgs(ctx, "renew", room, ttl, node); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ownerLocked(room) != node {
		return false, nil
	}
	m.rooms[room] = memLease{owner: node, expires: m.now().Add(ttl)}
	return true, nil
}

func (m *memLeases) Release(ctx context.Context, room, node string) error {
	if err := checkArgs(ctx, "release", room, time.Second, node); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.ownerLocked(room) == node {
		delete(m.rooms, room)
	}
	return nil
}

func (m *memLeases) Owner(ctx context.Context, room string) (string, error) {
	if err := checkArgs(ctx, "owner", room, time.Second); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ownerLocked(room), nil
}

func (m *memLeases) Takeover(ctx context.Context, room, from, to string, ttl time.Duration) (string, error) {
	if err := checkArgs(ctx, "takeover", room, ttl, from, to); err != nil {
		return "", err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.ownerLocked(room); cur != "" && cur != from {
		return cur, nil
	}
	m.rooms[room] = memLease{owner: to, expires: m.now().Add(ttl)}
	return to, nil
}

func (m *memLeases) ReleaseAll(ctx context.Context, node string) (int, error) {
	if err := checkArgs(ctx, "release all", "-", time.Second, node); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for room := range m.rooms {
		if m.ownerLocked(room) == node {
			delete(m.rooms, room)
			n++
		}
	}
	return n, nil
}

func (m *memLeases) Rooms(ctx context.Context, limit int) (map[string]string, error) {
	if err := checkLimit(ctx, limit); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	names := make([]string, 0, len(m.rooms))
	for room := range m.rooms {
		if m.ownerLocked(room) != "" {
			names = append(names, room)
		}
	}
	sort.Strings(names) // a stable subset when limit cuts
	out := make(map[string]string, min(limit, len(names)))
	for _, room := range names[:min(limit, len(names))] {
		out[room] = m.rooms[room].owner
	}
	return out, nil
}
