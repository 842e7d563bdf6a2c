// Package s3test runs a real S3-compatible server (versitygw, DESIGN.md §4) inside a test:
// its own process on 127.0.0.1 with a free port and a temporary directory, stopped by
// t.Cleanup. Tests may Stop and Start it to simulate a storage outage.
package s3test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/atrium-live/atrium/recorder"
)

// Server is one versitygw process.
type Server struct {
	t      testing.TB
	bin    string
	dir    string
	addr   string
	cmd    *exec.Cmd
	exited chan struct{}
	Access string
	Secret string
	Bucket string
}

// Binary finds versitygw: $ATRIUM_VERSITYGW, the .run/bin/versitygw that
// scripts/services.sh installs at the pinned version, or $PATH.
func Binary() (string, error) {
	if p := os.Getenv("ATRIUM_VERSITYGW"); p != "" {
		return p, nil
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				p := filepath.Join(d, ".run", "bin", "versitygw")
				if _, err := os.Stat(p); err == nil {
					return p, nil
				}
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	p, err := exec.LookPath("versitygw")
	if err != nil {
		return "", fmt.Errorf("versitygw not found: run scripts/services.sh (it installs the pinned version into .run/bin)")
	}
	return p, nil
}

// Serve starts versitygw for the duration of the test.
func Serve(t testing.TB) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := &Server{t: t, bin: bin, dir: t.TempDir(), addr: addr, Access: "test-access",
		Secret: "test-secret-key", Bucket: "rec-test"}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// Config is an S3Config for this server.
func (s *Server) Config() recorder.S3Config {
	return recorder.S3Config{Endpoint: s.addr, AccessKey: s.Access, SecretKey: s.Secret,
		Bucket: s.Bucket, Region: "us-east-1"}
}

// Addr is host:port.
func (s *Server) Addr() string { return s.addr }

// Start (re)starts the process on the same port and directory and waits until it answers.
func (s *Server) Start() {
	s.t.Helper()
	if s.cmd != nil {
		return
	}
	cmd := exec.Command(s.bin, "--port", s.addr, "posix", s.dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY_ID="+s.Access, "ROOT_SECRET_ACCESS_KEY="+s.Secret)
	out, err := os.Create(filepath.Join(s.t.TempDir(), "versitygw.log"))
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("start versitygw: %v", err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() { _ = cmd.Wait(); out.Close(); close(s.exited) }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", s.addr); err == nil {
			c.Close()
			return
		}
		select {
		case <-s.exited:
			log, _ := os.ReadFile(out.Name())
			s.t.Fatalf("versitygw exited at start:\n%s", log)
		case <-time.After(50 * time.Millisecond):
		}
	}
	s.t.Fatalf("versitygw did not listen on %s within 15 s", s.addr)
}

// Stop kills the process (an outage); Start brings it back with the same objects.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exited
	s.cmd = nil
}
