package main

import (
	"errors"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atrium-live/atrium/pkg/tlsfile"
)

// tlsSource is where a role's certificates come from: PEM files or ACME.
type tlsSource interface {
	Listen(addr string) (net.Listener, error)
	Collector(role string) prometheus.Collector
}

// newTLSSource returns the role's certificate source from its config: files when certFile
// is set, ACME when acme.Domains is, nil (plain HTTP) when neither.
func newTLSSource(certFile, keyFile string, acme tlsfile.ACMEParams) (tlsSource, error) {
	switch {
	case certFile != "" && len(acme.Domains) > 0:
		return nil, errors.New("tls: set cert files or acme domains, not both")
	case certFile != "":
		return tlsfile.Load(certFile, keyFile)
	case len(acme.Domains) > 0:
		return tlsfile.NewACME(acme)
	}
	return nil, nil
}
