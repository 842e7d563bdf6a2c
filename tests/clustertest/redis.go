package clustertest

import (
	"fmt"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/clusterconf"
	"github.com/atrium-live/atrium/pkg/placement"
	"github.com/atrium-live/atrium/pkg/redistest"
)

// Redis is a redis-server this test owns (see pkg/redistest), so it can be stopped and
// restarted without touching the machine's shared Redis.
type Redis struct {
	*redistest.Server
	t testing.TB
}

// StartRedis runs one for the duration of the test.
func StartRedis(t testing.TB) *Redis { return &Redis{Server: redistest.Start(t), t: t} }

// RedisLeases returns a lease store on a Redis of the test's own.
func RedisLeases(t testing.TB) placement.Leases {
	return StartRedis(t).Leases()
}

// Leases opens the store as `atrium sfu` and `atrium signal` do (same client settings).
func (r *Redis) Leases() placement.Leases {
	pc := clusterconf.DefaultPlacement()
	pc.RedisAddr = r.Addr()
	pc.KeyPrefix = fmt.Sprintf("test:%d:", time.Now().UnixNano())
	l, closeFn := pc.Open()
	r.t.Cleanup(func() { _ = closeFn() })
	return l
}
