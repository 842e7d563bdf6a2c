package placement

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/pkg/redistest"
)

// redisServer is a redis-server of the test's own (pkg/redistest).
type redisServer struct{ *redistest.Server }

func startRedis(t *testing.T) *redisServer { return &redisServer{redistest.Start(t)} }

func (s *redisServer) addr() string { return s.Addr() }
func (s *redisServer) start()       { s.Start() }
func (s *redisServer) stop()        { s.Stop() }

// client returns a go-redis client for s that fails fast while the server is down.
func (s *redisServer) client(t *testing.T) *redis.Client {
	c := redis.NewClient(&redis.Options{
		Addr: s.addr(), MaxRetries: 1, DialerRetries: 1, DialTimeout: 500 * time.Millisecond,
		ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	t.Cleanup(func() { c.Close() })
	return c
}

func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("test:%s:%d:", t.Name(), time.Now().UnixNano())
}
