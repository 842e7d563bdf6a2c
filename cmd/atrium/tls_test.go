package main

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/pkg/tlsfile/tlsfiletest"
)

func wantHSTS(t *testing.T, client *http.Client, url string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	resp.Body.Close()
	if resp.TLS == nil || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("GET %s: TLS %v, HSTS %q; want both", url, resp.TLS != nil, resp.Header.Get("Strict-Transport-Security"))
	}
}

// TestSFUServesWSS: with tls.cert_file/key_file an SFU serves HTTPS with HSTS, and a LiveKit
// client joins over wss:// with a certificate from a test CA (and nothing else trusted).
func TestSFUServesWSS(t *testing.T) {
	ca := tlsfiletest.NewCA(t)
	cert, key := ca.Issue(t, "sfu", time.Now().Add(time.Hour))
	addr := freeAddr(t, "tcp")
	t.Setenv("ATRIUM_SFU_HTTP_ADDR", addr)
	t.Setenv("ATRIUM_SFU_RTC_UDP_ADDR", "127.0.0.1:0")
	t.Setenv("ATRIUM_SFU_TLS_CERT_FILE", cert)
	t.Setenv("ATRIUM_SFU_TLS_KEY_FILE", key)
	client := ca.Client()
	err := runRoleCheck(t, runSFU, []string{"--dev", "--log-level", "warn"}, "https://"+addr+"/healthz", client, func() {
		wantHSTS(t, client, "https://"+addr+"/readyz")
		ws := joinWSS(t, ca, addr, "tls-room")
		ws.Close()
		// Plain HTTP on the TLS port is refused, not served.
		if resp, err := http.Get("http://" + addr + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Errorf("plain HTTP on the TLS port answered 200")
			}
		}
	})
	if err != nil {
		t.Fatalf("sfu with TLS: %v", err)
	}
}

// TestControlPlaneServesHTTPS: http.tls_cert_file/tls_key_file make the control plane serve
// HTTPS with HSTS.
func TestControlPlaneServesHTTPS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the control plane on PostgreSQL and Redis")
	}
	ca := tlsfiletest.NewCA(t)
	cert, key := ca.Issue(t, "cp", time.Now().Add(time.Hour))
	dbURL, prefix := freshDatabase(t)
	addr := freeAddr(t, "tcp")
	for k, v := range map[string]string{
		"ATRIUM_HTTP_ADDR": addr, "ATRIUM_DATABASE_URL": dbURL, "ATRIUM_DATABASE_AUTO_MIGRATE": "true",
		"ATRIUM_REDIS_KEY_PREFIX": prefix, "ATRIUM_JOBS_DISABLED": "true",
		"ATRIUM_HTTP_TLS_CERT_FILE": cert, "ATRIUM_HTTP_TLS_KEY_FILE": key,
	} {
		t.Setenv(k, v)
	}
	client := ca.Client()
	err := runRoleCheck(t, runControlPlane, []string{"--dev"}, "https://"+addr+"/healthz", client, func() {
		wantHSTS(t, client, "https://"+addr+"/api/openapi.json")
	})
	if err != nil {
		t.Fatalf("control plane with TLS: %v", err)
	}
	t.Setenv("ATRIUM_HTTP_TLS_KEY_FILE", "")
	if err := runControlPlane(context.Background(), []string{"--dev"}); err == nil || !strings.Contains(err.Error(), "tls_cert_file and http.tls_key_file go together") {
		t.Errorf("cert without key: err = %v", err)
	}
}

// TestControlPlaneACME: with http.acme set, the control plane obtains its certificate from
// an ACME server (pebble, validating the TLS-ALPN-01 challenge on the control plane's port)
// and serves HTTPS with it.
func TestControlPlaneACME(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pebble and the control plane")
	}
	addr := freeAddr(t, "tcp")
	_, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	peb := tlsfiletest.StartPebble(t, p)
	dbURL, prefix := freshDatabase(t)
	for k, v := range map[string]string{
		"ATRIUM_HTTP_ADDR": addr, "ATRIUM_DATABASE_URL": dbURL, "ATRIUM_DATABASE_AUTO_MIGRATE": "true",
		"ATRIUM_REDIS_KEY_PREFIX": prefix, "ATRIUM_JOBS_DISABLED": "true",
		"ATRIUM_HTTP_ACME_DOMAINS": "atrium.test", "ATRIUM_HTTP_ACME_DIRECTORY_URL": peb.DirectoryURL,
		"ATRIUM_HTTP_ACME_CA_FILE": peb.CAFile, "ATRIUM_HTTP_ACME_CACHE_DIR": t.TempDir(),
	} {
		t.Setenv(k, v)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: peb.Issued, ServerName: "atrium.test"}}}
	err := runRoleCheck(t, runControlPlane, []string{"--dev"}, "https://"+addr+"/healthz", client, func() {
		wantHSTS(t, client, "https://"+addr+"/api/openapi.json")
	})
	if err != nil {
		t.Fatalf("control plane with ACME: %v", err)
	}
}
