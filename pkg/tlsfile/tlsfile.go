// Package tlsfile serves TLS from PEM files named in a role's config, re-reading them when
// they change, because cert-manager and ACME clients renew certificates by replacing the
// files of a mounted Secret and a role should not need a restart for that. It also holds the
// HSTS middleware every role adds when it serves HTTPS.
package tlsfile

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// checkEvery bounds how often the files' modification times are looked at.
const checkEvery = 10 * time.Second

// Certs hands out the certificate in CertFile/KeyFile, reloaded when either file changes.
// Safe for concurrent use. A failed reload keeps the previous certificate (and is retried at
// the next check), so a half-written renewal never takes the server down.
type Certs struct {
	certFile, keyFile string
	now               func() time.Time

	mu        sync.Mutex
	cur       *tls.Certificate
	stamp     string
	lastCheck time.Time
}

// Load reads the key pair once (an error here is a configuration error) and returns Certs.
func Load(certFile, keyFile string) (*Certs, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("tls: both cert_file and key_file are needed")
	}
	c := &Certs{certFile: certFile, keyFile: keyFile, now: time.Now}
	if err := c.reload(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *Certs) fileStamp() (string, error) {
	var s string
	for _, f := range []string{c.certFile, c.keyFile} {
		st, err := os.Stat(f)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		s += fmt.Sprintf("%d/%d;", st.ModTime().UnixNano(), st.Size())
	}
	return s, nil
}

// reload reads the pair when the files changed since the last read. Called with mu held or
// before c is shared.
func (c *Certs) reload() error {
	stamp, err := c.fileStamp()
	if err != nil {
		return err
	}
	if stamp == c.stamp && c.cur != nil {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s / %s: %w", c.certFile, c.keyFile, err)
	}
	c.cur, c.stamp = &pair, stamp
	return nil
}

// GetCertificate is a tls.Config.GetCertificate.
func (c *Certs) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.now(); now.Sub(c.lastCheck) >= checkEvery {
		c.lastCheck = now
		_ = c.reload() // keep serving the previous certificate on failure
	}
	return c.cur, nil
}

// Config is a server tls.Config using c: TLS 1.2 or newer, HTTP/1.1 only (WebSockets are
// upgraded over HTTP/1.1; browsers do not use HTTP/2 for them without RFC 8441 support).
func (c *Certs) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: c.GetCertificate, NextProtos: []string{"http/1.1"}}
}

// Listen listens on addr (TCP) and wraps the listener in TLS with c.
func (c *Certs) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return tls.NewListener(ln, c.Config()), nil
}

// HSTS sets Strict-Transport-Security on every response (RFC 6797 §6.1): browsers then use
// HTTPS for this host for two years. Only for servers that answer on TLS.
func HSTS(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		next.ServeHTTP(w, r)
	})
}

var expiryDesc = prometheus.NewDesc("atrium_tls_certificate_expiry_timestamp_seconds",
	"When the certificate being served expires (Unix time); the alert rules warn 14 days ahead.", []string{"role"}, nil)

// Collector reports when the certificate being served expires, labelled with role.
func (c *Certs) Collector(role string) prometheus.Collector {
	return expiryCollector{role: role, current: func() *tls.Certificate {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.cur
	}}
}

type expiryCollector struct {
	role    string
	current func() *tls.Certificate
}

func (e expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- expiryDesc }

func (e expiryCollector) Collect(ch chan<- prometheus.Metric) {
	cur := e.current()
	if cur == nil || len(cur.Certificate) == 0 {
		return
	}
	leaf := cur.Leaf
	if leaf == nil {
		var err error
		if leaf, err = x509.ParseCertificate(cur.Certificate[0]); err != nil {
			return
		}
	}
	ch <- prometheus.MustNewConstMetric(expiryDesc, prometheus.GaugeValue, float64(leaf.NotAfter.Unix()), e.role)
}
