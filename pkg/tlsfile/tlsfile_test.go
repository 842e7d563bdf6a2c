package tlsfile

import (
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/pkg/tlsfile/tlsfiletest"
)

func TestServesAndReloads(t *testing.T) {
	ca := tlsfiletest.NewCA(t)
	certFile, keyFile := ca.Issue(t, "first", time.Now().Add(time.Hour))
	c, err := Load(certFile, keyFile)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	now := time.Now()
	c.now = func() time.Time { return now }
	ln, err := c.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: HSTS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "https://" + ln.Addr().String() + "/"

	notAfter := func() time.Time {
		t.Helper()
		resp, err := ca.Client().Get(url)
		if err != nil {
			t.Fatalf("GET over TLS: %v", err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=63072000; includeSubDomains" {
			t.Errorf("HSTS header = %q", got)
		}
		return resp.TLS.PeerCertificates[0].NotAfter
	}
	first := notAfter()

	// Renewal: new files in place (as cert-manager does), seen after the next check.
	renewedCert, renewedKey := ca.Issue(t, "second", time.Now().Add(48*time.Hour))
	for src, dst := range map[string]string{renewedCert: certFile, renewedKey: keyFile} {
		b, _ := os.ReadFile(src)
		if err := os.WriteFile(dst, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	ca.Client().CloseIdleConnections()
	if got := notAfter(); !got.Equal(first) {
		t.Errorf("certificate changed before the check interval")
	}
	now = now.Add(checkEvery)
	second := notAfter()
	if !second.After(first.Add(24 * time.Hour)) {
		t.Errorf("after renewal the server still presents the certificate ending %v", second)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(c.Collector("sfu"))
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || mfs[0].GetMetric()[0].GetGauge().GetValue() != float64(second.Unix()) {
		t.Errorf("expiry metric = %v (%v), want %v", mfs, err, second.Unix())
	}

	// A broken renewal keeps the last good certificate.
	if err := os.WriteFile(certFile, []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	now = now.Add(checkEvery)
	if got := notAfter(); !got.Equal(second) {
		t.Errorf("a broken file replaced the certificate")
	}
}

func TestLoadErrors(t *testing.T) {
	ca := tlsfiletest.NewCA(t)
	certFile, _ := ca.Issue(t, "x", time.Now().Add(time.Hour))
	for _, tc := range [][2]string{{"", ""}, {certFile, ""}, {certFile, certFile}, {certFile + ".nope", certFile}} {
		if _, err := Load(tc[0], tc[1]); err == nil {
			t.Errorf("Load(%q, %q): no error", tc[0], tc[1])
		}
	}
}
