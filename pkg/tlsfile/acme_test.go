package tlsfile

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/pkg/tlsfile/tlsfiletest"
)

// TestACMEIssuesAgainstPebble obtains a certificate from Let's Encrypt's ACME test server
// (pebble) with the TLS-ALPN-01 challenge really validated: pebble resolves the name through
// its companion DNS server (pebble-challtestsrv answers 127.0.0.1) and connects to our
// serving port, which answers the challenge; then a client gets the issued certificate.
func TestACMEIssuesAgainstPebble(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pebble")
	}
	// Our server's port, known before pebble starts (it validates challenges there).
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peb := tlsfiletest.StartPebble(t, ln.Addr().(*net.TCPAddr).Port)

	a, err := NewACME(ACMEParams{Domains: []string{"atrium.test"}, Email: "ops@atrium.test",
		DirectoryURL: peb.DirectoryURL, CacheDir: t.TempDir(), CAFile: peb.CAFile})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: HSTS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))}
	go func() { _ = srv.Serve(tls.NewListener(ln, a.Config())) }()
	t.Cleanup(func() { srv.Close() })

	issued := peb.Issued
	// The first handshake naming atrium.test triggers the order: account, TLS-ALPN-01
	// challenge validated by pebble against our port, finalize, download.
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: issued, ServerName: "atrium.test"}}}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatalf("GET with the ACME certificate: %v", err)
	}
	resp.Body.Close()
	leaf := resp.TLS.PeerCertificates[0]
	if len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "atrium.test" || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("certificate names %v, HSTS %q; want atrium.test and HSTS", leaf.DNSNames, resp.Header.Get("Strict-Transport-Security"))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(a.Collector("controlplane"))
	if mfs, err := reg.Gather(); err != nil || len(mfs) != 1 || mfs[0].GetMetric()[0].GetGauge().GetValue() != float64(leaf.NotAfter.Unix()) {
		t.Errorf("expiry metric = %v (%v), want %v", mfs, err, leaf.NotAfter.Unix())
	}
	// A name outside Domains gets no certificate (and no order at the CA).
	other := &tls.Config{RootCAs: issued, ServerName: "evil.test"}
	if c, err := tls.Dial("tcp", ln.Addr().String(), other); err == nil {
		c.Close()
		t.Error("handshake for a name outside Domains succeeded")
	}
}
