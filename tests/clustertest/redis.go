package clustertest

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/atrium-live/atrium/pkg/clusterconf"
	"github.com/atrium-live/atrium/pkg/placement"
)

// Redis is a redis-server this test owns, on a free loopback port, so it can be stopped
// and restarted without touching the machine's shared Redis.
type Redis struct {
	t    testing.TB
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
}

func StartRedis(t testing.TB) *Redis {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not installed (scripts/services.sh installs it): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	r := &Redis{t: t, port: port}
	r.Start()
	t.Cleanup(r.Stop)
	return r
}

func (r *Redis) Addr() string { return "127.0.0.1:" + strconv.Itoa(r.port) }

// start runs redis-server without persistence and waits until it answers.
func (r *Redis) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("start redis-server: %v", err)
	}
	r.cmd = cmd
	c := redis.NewClient(&redis.Options{Addr: r.Addr()})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			r.t.Fatalf("redis-server on %s did not answer", r.Addr())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop kills redis-server (its keys are lost: no persistence).
func (r *Redis) Stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return
	}
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
	r.cmd = nil
}

// redisLeases returns a lease store on a Redis of the test's own.
func RedisLeases(t testing.TB) placement.Leases {
	r := StartRedis(t)
	return r.Leases()
}

// leases opens the store as `atrium sfu` and `atrium signal` do (same client settings).
func (r *Redis) Leases() placement.Leases {
	pc := clusterconf.DefaultPlacement()
	pc.RedisAddr = r.Addr()
	pc.KeyPrefix = fmt.Sprintf("test:%d:", time.Now().UnixNano())
	l, closeFn := pc.Open()
	r.t.Cleanup(func() { _ = closeFn() })
	return l
}
