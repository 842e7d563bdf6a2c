package sfu

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/atrium-live/atrium/pkg/opsauth"
)

// metricsHandler is /metrics on the public HTTP listener: only with Config.MetricsToken as
// a bearer token, and 404 when no token is configured (issue 17, finding 12). Scrape the
// internal listener (Config.MetricsAddr) instead where you can.
func (s *Server) metricsHandler() http.Handler {
	return opsauth.Guard(s.cfg.MetricsToken, promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
}

// opsListener serves /metrics and pprof on Config.MetricsAddr, a port only operators reach.
type opsListener struct {
	ln  net.Listener
	srv *http.Server
}

// openOps listens on addr (empty: no internal listener, nil result).
func (s *Server) openOps(addr string) (*opsListener, error) {
	if addr == "" {
		return nil, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sfu: metrics listen %s: %w", addr, err)
	}
	mux := opsauth.Mux(promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	return &opsListener{ln: ln, srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}}, nil
}

func (o *opsListener) serve() {
	if o != nil {
		go func() { _ = o.srv.Serve(o.ln) }()
	}
}

func (o *opsListener) close() {
	if o != nil {
		_ = o.srv.Close()
	}
}

// MetricsAddr is the internal metrics listener's address, or nil without one.
func (s *Server) MetricsAddr() net.Addr {
	if s.ops == nil {
		return nil
	}
	return s.ops.ln.Addr()
}
