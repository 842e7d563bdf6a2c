package sfu

import "github.com/atrium-live/atrium/pkg/tlsfile"

// UseHSTS makes every response carry Strict-Transport-Security. For a node that serves TLS
// (cmd/atrium hands New a TLS listener when tls.cert_file is set); call it before Run.
func (s *Server) UseHSTS() { s.httpSrv.Handler = tlsfile.HSTS(s.httpSrv.Handler) }
