package placement

import (
	"context"
	"time"
)

// NewMemory returns Leases kept in this process, with the same semantics as NewRedis
// (expiry included), for single-node use (atrium dev) and tests. now is the clock
// (time.Now if nil).
func NewMemory(now func() time.Time) Leases {
	if now == nil {
		now = time.Now
	}
	return &memLeases{now: now}
}

type memLeases struct {
	now func() time.Time
}

func (m *memLeases) Acquire(ctx context.Context, room, node string, ttl time.Duration) (string, error) {
	return "", errTODO
}
func (m *memLeases) Renew(ctx context.Context, room, node string, ttl time.Duration) (bool, error) {
	return false, errTODO
}
func (m *memLeases) Release(ctx context.Context, room, node string) error { return errTODO }
func (m *memLeases) Owner(ctx context.Context, room string) (string, error) {
	return "", errTODO
}
func (m *memLeases) Takeover(ctx context.Context, room, from, to string, ttl time.Duration) (string, error) {
	return "", errTODO
}
func (m *memLeases) ReleaseAll(ctx context.Context, node string) (int, error) { return 0, errTODO }
func (m *memLeases) Rooms(ctx context.Context, limit int) (map[string]string, error) {
	return nil, errTODO
}
