// Package sigroute routes LiveKit signal requests (/rtc, /rtc/validate) to the node that owns
// the room. SFU nodes and the stateless gateway (`atrium signal`) both mount a Router: it
// verifies the token first (a forged or expired token never reaches a node), asks a Locator
// which node owns the room (placing it if nobody does), and either serves the request locally
// or proxies it, WebSocket included, to the owner's advertised signal URL. Media never goes
// through the proxy: the owner's own ICE candidates are in its SDP.
//
// The proxy is byte-transparent after the upgrade, so LiveKit's pings, large messages and
// resume (reconnect=1) pass unchanged. When the owner cannot be dialled (killed, no goodbye),
// the Router holds the request until gossip declares the owner dead and the Locator moves the
// room, up to Params.DialWait, so a reconnecting SDK's first retry lands on the new node
// instead of failing and backing off.
package sigroute

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"time"

	"github.com/atrium-live/atrium/pkg/access"
	"github.com/atrium-live/atrium/pkg/cluster"
	"github.com/atrium-live/atrium/pkg/placement"
)

// HopHeader counts how many times a request was proxied; a request is never proxied more
// than MaxHops times (leases moving under it could otherwise bounce it around).
const HopHeader = "X-Atrium-Hops"

// RelayHeader names the origin a request was sent on from: the origin (the room's owner)
// placed the participant on another node, which serves it as a relay node of the room
// (docs/relay.md). The receiving router honours it only when that origin does own the room.
const RelayHeader = "X-Atrium-Relay-Origin"

// MaxHops bounds proxying: client → gateway → owner, plus one more if the room moved between
// the gateway's lookup and the node's.
const MaxHops = 2

// Locator finds (or places) the node that owns a room. placement.Placer implements it.
type Locator interface {
	Locate(ctx context.Context, room string) (string, error)
}

// Directory resolves node ids to their gossip metadata. cluster.Cluster implements it.
type Directory interface {
	Member(id string) (cluster.Meta, bool)
	Alive(id string) bool
}

// Outcome labels what happened to a routed request (metrics).
type Outcome string

// Outcomes of Router.ServeHTTP.
const (
	OutcomeLocal        Outcome = "local"
	OutcomeProxied      Outcome = "proxied"
	OutcomeUnauthorized Outcome = "unauthorized"
	OutcomeUnavailable  Outcome = "unavailable"
	OutcomeTooManyHops  Outcome = "too_many_hops"
	OutcomeRelayed      Outcome = "relayed"
)

// Params configure a Router. Keys, Locator and Directory are required.
type Params struct {
	// Self is this node's id; empty on a gateway, which never serves locally.
	Self string
	// Keys verify access tokens before anything else happens.
	Keys access.Keys
	// Locator finds the room's owner.
	Locator Locator
	// Directory gives the owner's signal URL.
	Directory Directory
	// Local serves requests for rooms Self owns (the SFU's own /rtc handlers); nil on a gateway.
	Local http.Handler
	// DialWait bounds how long a request waits for an unreachable owner to be replaced;
	// default 8 s (LiveKit SDKs give a reconnect attempt about 10 s).
	DialWait time.Duration
	// Transport dials owners; nil uses a dedicated http.Transport.
	Transport http.RoundTripper
	// Logger; nil discards.
	Logger *slog.Logger
	// Observe, if set, is told each request's outcome and routing latency.
	Observe func(Outcome, time.Duration)
	// Spill, if set, is asked on the owner before serving locally: a node id other than
	// Self sends the participant to that node as a relay node of the room.
	Spill func(r *http.Request, room, identity string) string
}

// Router is an http.Handler for /rtc and /rtc/validate. Safe for concurrent use.
type Router struct {
	p Params
}

// New builds a Router.
func New(p Params) *Router {
	if p.DialWait <= 0 {
		p.DialWait = 8 * time.Second
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if p.Transport == nil {
		p.Transport = &http.Transport{
			DialContext:           (&net.Dialer{Timeout: 2 * time.Second, KeepAlive: 15 * time.Second}).DialContext,
			MaxIdleConnsPerHost:   16,
			IdleConnTimeout:       60 * time.Second,
			ResponseHeaderTimeout: 10 * time.Second,
		}
	}
	return &Router{p: p}
}

func (rt *Router) observe(o Outcome, start time.Time) {
	if rt.p.Observe != nil {
		rt.p.Observe(o, time.Since(start))
	}
}

// ServeHTTP routes one signal request.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	grants, err := access.Verify(access.TokenFromRequest(r), rt.p.Keys)
	if err == nil {
		_, err = access.CheckJoin(grants)
	}
	if err != nil {
		rt.observe(OutcomeUnauthorized, start)
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	room := grants.Video.Room
	hops, _ := strconv.Atoi(r.Header.Get(HopHeader))

	ctx := r.Context()
	deadline := time.Now().Add(rt.p.DialWait)
	var lastErr error
	for attempt := 0; ; attempt++ {
		owner, err := rt.p.Locator.Locate(ctx, room)
		switch {
		case errors.Is(err, placement.ErrOwnerUnknown):
			lastErr = err // gossip will bring the owner here in a moment
		case err != nil:
			// No node can take the room, or the placement store is down: waiting would
			// not help this request, and the SDK retries on its own.
			rt.observe(OutcomeUnavailable, start)
			rt.p.Logger.Info("signal route: cannot place room", "room", room, "err", err)
			http.Error(w, "sigroute: cannot place room: "+err.Error(), http.StatusServiceUnavailable)
			return
		case owner == rt.p.Self && rt.p.Local != nil:
			if target := rt.spill(r, room, grants.Identity); target != "" {
				if m, ok := rt.p.Directory.Member(target); ok {
					r.Header.Set(RelayHeader, rt.p.Self)
					if sent, _ := rt.proxy(w, r, m.SignalURL, hops+1); sent {
						rt.observe(OutcomeRelayed, start)
						return
					}
					r.Header.Del(RelayHeader)
				}
			}
			r.Header.Del(RelayHeader)
			rt.observe(OutcomeLocal, start)
			rt.p.Local.ServeHTTP(w, r)
			return
		case rt.p.Local != nil && owner != "" && r.Header.Get(RelayHeader) == owner:
			// Sent here by the owner to serve as a relay node of the room.
			rt.observe(OutcomeLocal, start)
			rt.p.Local.ServeHTTP(w, r)
			return
		case hops >= MaxHops:
			rt.observe(OutcomeTooManyHops, start)
			http.Error(w, "sigroute: room is moving, retry", http.StatusServiceUnavailable)
			return
		default:
			m, ok := rt.p.Directory.Member(owner)
			if !ok {
				lastErr = fmt.Errorf("owner %s of room %q is not a live member yet", owner, room)
				break
			}
			sent, perr := rt.proxy(w, r, m.SignalURL, hops+1)
			if sent {
				rt.observe(OutcomeProxied, start)
				return
			}
			lastErr = fmt.Errorf("owner %s at %s: %w", owner, m.SignalURL, perr)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if attempt == 0 {
			rt.p.Logger.Info("signal route waiting", "room", room, "err", lastErr)
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
	rt.observe(OutcomeUnavailable, start)
	rt.p.Logger.Warn("signal route failed", "room", room, "err", lastErr)
	http.Error(w, "sigroute: no node can serve this room now: "+errMessage(lastErr), http.StatusServiceUnavailable)
}

// spill asks the Spill hook, if any, for another node to serve the participant.
func (rt *Router) spill(r *http.Request, room, identity string) string {
	if rt.p.Spill == nil || r.Header.Get(RelayHeader) != "" {
		return ""
	}
	if t := rt.p.Spill(r, room, identity); t != rt.p.Self {
		return t
	}
	return ""
}

func errMessage(err error) string {
	if err == nil {
		return "unknown"
	}
	return err.Error()
}

// errNotSent marks a proxy attempt that wrote nothing to the client, so it can be retried.
var errNotSent = errors.New("sigroute: owner unreachable")

// proxy forwards r to base. It reports whether a response reached the client; when it did
// not (the owner could not be dialled), w is untouched and the caller may try again.
func (rt *Router) proxy(w http.ResponseWriter, r *http.Request, base string, hops int) (bool, error) {
	target, err := url.Parse(base)
	if err != nil || target.Host == "" {
		return false, fmt.Errorf("bad signal URL %q", base)
	}
	var proxyErr error
	tw := &trackingWriter{ResponseWriter: w}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = target.Host
			pr.SetXForwarded()
			pr.Out.Header.Set(HopHeader, strconv.Itoa(hops))
		},
		Transport: rt.p.Transport,
		// A CORS header the router's caller already set (the gateway answers browsers'
		// fetch() of /rtc/validate itself) is not repeated from the node's answer: two
		// Access-Control-Allow-Origin values make the browser reject the response, and
		// livekit-client then cannot read the 404 that tells it to fall back from /rtc/v1.
		ModifyResponse: func(resp *http.Response) error {
			for _, h := range corsHeaders {
				if w.Header().Get(h) != "" {
					resp.Header.Del(h)
				}
			}
			return nil
		},
		ErrorHandler: func(_ http.ResponseWriter, _ *http.Request, err error) {
			proxyErr = err
		},
		// WebSocket frames must not wait in a buffer.
		FlushInterval: -1,
	}
	rp.ServeHTTP(tw, r)
	if tw.wrote {
		return true, nil
	}
	if proxyErr == nil {
		proxyErr = errNotSent
	}
	return false, proxyErr
}

// corsHeaders are the response headers ModifyResponse keeps single-valued.
var corsHeaders = []string{
	"Access-Control-Allow-Origin", "Access-Control-Allow-Methods", "Access-Control-Allow-Headers",
	"Access-Control-Expose-Headers", "Access-Control-Allow-Credentials", "Access-Control-Max-Age",
}

// trackingWriter remembers whether anything was sent to the client.
type trackingWriter struct {
	http.ResponseWriter
	wrote bool
}

func (t *trackingWriter) WriteHeader(code int) {
	t.wrote = true
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(b []byte) (int, error) {
	t.wrote = true
	return t.ResponseWriter.Write(b)
}

func (t *trackingWriter) Flush() {
	if f, ok := t.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack is how ReverseProxy takes over the connection after a 101 from the owner: the
// upgrade response is written on the hijacked connection, so a hijack counts as sent.
func (t *trackingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(t.ResponseWriter).Hijack()
	if err == nil {
		t.wrote = true
	}
	return c, brw, err
}

// Unwrap lets http.ResponseController reach the underlying writer's other methods.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
