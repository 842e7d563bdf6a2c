package placement

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// NewRedis returns Leases kept in Redis under keys starting with prefix.
func NewRedis(client redis.UniversalClient, prefix string) Leases {
	return &redisLeases{rdb: client, prefix: prefix}
}

type redisLeases struct {
	rdb    redis.UniversalClient
	prefix string
}

var errTODO = errors.New("placement: not implemented yet")

func (r *redisLeases) Acquire(ctx context.Context, room, node string, ttl time.Duration) (string, error) {
	return "", errTODO
}
func (r *redisLeases) Renew(ctx context.Context, room, node string, ttl time.Duration) (bool, error) {
	return false, errTODO
}
func (r *redisLeases) Release(ctx context.Context, room, node string) error { return errTODO }
func (r *redisLeases) Owner(ctx context.Context, room string) (string, error) {
	return "", errTODO
}
func (r *redisLeases) Takeover(ctx context.Context, room, from, to string, ttl time.Duration) (string, error) {
	return "", errTODO
}
func (r *redisLeases) ReleaseAll(ctx context.Context, node string) (int, error) { return 0, errTODO }
func (r *redisLeases) Rooms(ctx context.Context, limit int) (map[string]string, error) {
	return nil, errTODO
}
