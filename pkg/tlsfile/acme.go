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

	"golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// ACMEParams obtains certificates from an ACME server (RFC 8555) for a role that serves TLS
// itself, with the TLS-ALPN-01 challenge (RFC 8737) answered on the serving port, so no
// extra port or DNS access is needed.
// It is also the `acme` section of the roles' TLS config.
type ACMEParams struct {
	// Domains the certificate may name; requests for other names are refused. Empty turns
	// ACME off.
	Domains []string `yaml:"domains"`
	// Email is the ACME account contact (expiry notices). Optional.
	Email string `yaml:"email"`
	// DirectoryURL is the ACME directory; empty means Let's Encrypt's production one.
	DirectoryURL string `yaml:"directory_url"`
	// CacheDir keeps the account key and certificates across restarts (a persistent volume):
	// without it every restart asks for a new certificate and runs into rate limits.
	CacheDir string `yaml:"cache_dir"`
	// CAFile, if set, is a PEM bundle of roots to trust for the ACME server itself (a private
	// ACME CA such as step-ca, or the test server); empty uses the system roots.
	CAFile string `yaml:"ca_file"`
}

// ACME serves certificates obtained by ACME. Safe for concurrent use.
type ACME struct {
	cfg  *tls.Config
	mu   sync.Mutex
	last *tls.Certificate
}

// NewACME obtains and renews certificates for p.Domains on demand (at the first handshake
// naming one, then 30 days before expiry).
func NewACME(p ACMEParams) (*ACME, error) {
	if len(p.Domains) == 0 {
		return nil, errors.New("acme: no domains")
	}
	if p.CacheDir == "" {
		return nil, errors.New("acme: a cache directory is required (account key and certificates survive restarts there)")
	}
	client := &acme.Client{DirectoryURL: p.DirectoryURL}
	if p.CAFile != "" {
		pem, err := os.ReadFile(p.CAFile)
		if err != nil {
			return nil, fmt.Errorf("acme: ca file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme: ca file %s holds no PEM certificate", p.CAFile)
		}
		client.HTTPClient = &http.Client{Timeout: 30 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	}
	m := &autocert.Manager{
		Prompt:     autocert.AcceptTOS,
		Cache:      autocert.DirCache(p.CacheDir),
		HostPolicy: autocert.HostWhitelist(p.Domains...),
		Email:      p.Email,
		Client:     client,
	}
	a := &ACME{}
	a.cfg = &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1", acme.ALPNProto},
		GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := m.GetCertificate(hello)
			if err == nil && !isChallenge(hello) {
				a.mu.Lock()
				a.last = c
				a.mu.Unlock()
			}
			return c, err
		}}
	return a, nil
}

func isChallenge(hello *tls.ClientHelloInfo) bool {
	return len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto
}

// Config is the server tls.Config (HTTP/1.1 and the TLS-ALPN-01 challenge protocol).
func (a *ACME) Config() *tls.Config { return a.cfg }

// Listen listens on addr (TCP) and wraps the listener in TLS with a.
func (a *ACME) Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	return tls.NewListener(ln, a.cfg), nil
}

// Collector reports the expiry of the certificate served last (nothing before the first).
func (a *ACME) Collector(role string) prometheus.Collector {
	return expiryCollector{role: role, current: func() *tls.Certificate {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.last
	}}
}
