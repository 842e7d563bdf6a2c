// Package api is the control plane's HTTP layer: the whole route table (routes.go), thin
// handlers (decode, validate, one service call, respond), middleware, the OpenAPI document
// (openapi.yaml, embedded, served at /api/openapi.json and enforced on requests) and the
// JSON shapes of responses.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/atrium-live/atrium/controlplane/accounts"
	"github.com/atrium-live/atrium/controlplane/auth"
	"github.com/atrium-live/atrium/controlplane/catalog"
	"github.com/atrium-live/atrium/controlplane/classroom"
	"github.com/atrium-live/atrium/controlplane/media"
	"github.com/atrium-live/atrium/controlplane/notify"
	"github.com/atrium-live/atrium/controlplane/recordings"
	"github.com/atrium-live/atrium/controlplane/roster"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Handler holds what the handlers need. Build it in controlplane.New; all fields but UI and
// Extra are required.
type Handler struct {
	Accounts *accounts.Service
	Catalog  *catalog.Service
	Media    *media.Service
	// Recordings lists, starts, stops, serves and deletes class recordings (h_recordings.go).
	Recordings *recordings.Service
	// Roster is the teacher's roster and class messages (h_lifecycle.go).
	Roster  *roster.Service
	Store   *store.Store
	Signer  *auth.Signer
	Spec    *openapi3.T
	Metrics *Metrics
	Log     *slog.Logger
	Now     func() time.Time

	// Ready reports whether dependencies (PostgreSQL, Redis) answer; /readyz uses it.
	Ready func(ctx context.Context) error
	// MetricsHandler serves /metrics.
	MetricsHandler http.Handler
	// UI, if set, serves everything outside /api (the browser app).
	UI http.Handler
	// Money serves wallets, purchases, bookings, refunds, earnings and payouts (money_*.go).
	Money Money

	// Classroom stores and relays the live room's chat, Q&A and polls (h_classroom.go).
	Classroom *classroom.Service

	Rate         RateLimits
	CORSOrigins  []string
	MaxBodyBytes int64
	// MaxJSONDepth bounds the nesting of JSON bodies (zero: DefaultMaxJSONDepth).
	MaxJSONDepth      int
	TrustForwardedFor bool
	// TrustedProxies are our reverse proxies (see forwardedClient); empty means the peer.
	TrustedProxies []netip.Prefix
	HSTS           bool
	// MediaOrigin is the SFU's http(s) origin (from livekit.url), which the classroom's SDK
	// fetches /rtc/validate from when a connection fails; the CSP must allow it.
	MediaOrigin string
	// PublicURL is where users reach the control plane (feed URLs; an accepted Origin).
	PublicURL string
	// SecureCookies marks session cookies Secure (the public URL is https or TLS is served);
	// requests that arrive over TLS get Secure cookies regardless.
	SecureCookies bool
	// Notify fans notifications out to open pages (h_stream.go); nil turns the stream off.
	Notify *notify.Hub
	// StreamMaxAge bounds one notification stream (zero: defaultStreamMaxAge).
	StreamMaxAge time.Duration
}

// actor turns a principal into what catalog needs.
func actor(p store.Principal) catalog.Actor {
	return catalog.Actor{UserID: p.UserID, Role: p.Role, Verified: p.Verified}
}
