package tlsfiletest

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Pebble is Let's Encrypt's ACME test server (with its companion DNS server answering
// 127.0.0.1 for every name), started for one test. Both binaries are installed at pinned
// versions into .tools/bin by scripts/test-deps.sh.
type Pebble struct {
	// DirectoryURL is the ACME directory.
	DirectoryURL string
	// CAFile is the PEM root to trust for the directory's own HTTPS.
	CAFile string
	// Issued trusts the certificates Pebble issues.
	Issued *x509.CertPool
}

// StartPebble starts Pebble validating TLS-ALPN-01 challenges against tlsPort on 127.0.0.1
// (where the server under test must answer them). Challenges are really validated.
func StartPebble(t testing.TB, tlsPort int) *Pebble {
	t.Helper()
	ca := NewCA(t)
	cert, key := ca.Issue(t, "pebble", time.Now().Add(time.Hour))
	dns, dnsMgmt := freeAddr(t, "udp"), freeAddr(t, "tcp")
	startTool(t, "pebble-challtestsrv", nil, "-defaultIPv4", "127.0.0.1", "-defaultIPv6", "",
		"-dnsserver", dns, "-management", dnsMgmt, "-http01", "", "-https01", "", "-tlsalpn01", "", "-doh", "")
	// The DNS server must answer before pebble validates anything.
	resolver := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", dns)
	}}
	waitUntil(t, "pebble-challtestsrv", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		addrs, err := resolver.LookupHost(ctx, "atrium.test")
		return err == nil && len(addrs) > 0
	})
	dir, mgmt := freeAddr(t, "tcp"), freeAddr(t, "tcp")
	conf, _ := json.Marshal(map[string]any{"pebble": map[string]any{
		"listenAddress": dir, "managementListenAddress": mgmt, "certificate": cert, "privateKey": key,
		"httpPort": 1, "tlsPort": tlsPort, "ocspResponderURL": "", "externalAccountBindingRequired": false,
		"profiles": map[string]any{"default": map[string]any{"description": "test", "validityPeriod": 7776000}},
	}})
	confFile := filepath.Join(t.TempDir(), "pebble.json")
	if err := os.WriteFile(confFile, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	startTool(t, "pebble", []string{"PEBBLE_VA_NOSLEEP=1", "PEBBLE_WFE_NONCEREJECT=0"}, "-config", confFile, "-dnsserver", dns)

	admin := ca.Client()
	pool := x509.NewCertPool()
	waitUntil(t, "pebble", func() bool {
		resp, err := admin.Get("https://" + mgmt + "/roots/0")
		if err != nil {
			return false
		}
		root, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK && pool.AppendCertsFromPEM(root)
	})
	return &Pebble{DirectoryURL: "https://" + dir + "/dir", CAFile: ca.CertFile, Issued: pool}
}

func waitUntil(t testing.TB, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s not up within 30 s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t testing.TB, network string) string {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// toolPath finds .tools/bin/name above the working directory (tests run in their package's
// directory inside the module).
func toolPath(t testing.TB, name string) string {
	t.Helper()
	dir, _ := os.Getwd()
	for {
		p := filepath.Join(dir, ".tools", "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			t.Fatalf("%s not found in %s/.tools/bin: run scripts/test-deps.sh", name, dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("%s: no module root above the working directory", name)
		}
		dir = parent
	}
}

func startTool(t testing.TB, name string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command(toolPath(t, name), args...)
	cmd.Env = append(os.Environ(), env...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", name, err))
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("%s output:\n%s", name, logs.String())
		}
	})
}
