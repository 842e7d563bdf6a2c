// Package errreport sends errors to a Sentry-compatible service (Sentry, GlitchTip, ...)
// through sentry-go: every log record at level Error or above becomes an event (the control
// plane's recover middleware logs panics at Error, so panics are reported too). Off unless a
// DSN is configured.
//
// Events carry no personal data: sentry-go's default PII collection stays off, request and
// user data are dropped, attributes whose names suggest a secret or a person are left out, and
// every remaining string is scrubbed of email addresses, IP addresses and tokens (Scrub).
package errreport

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/getsentry/sentry-go"
)

// Config selects the service. Environment names follow the yaml tags under the role's prefix
// (e.g. ATRIUM_SENTRY_DSN, or ATRIUM_SENTRY_DSN_FILE for a mounted Secret).
type Config struct {
	// DSN is the project's DSN; "" turns reporting off.
	DSN string `yaml:"dsn"`
	// Environment tags events ("production", "staging").
	Environment string `yaml:"environment"`
	// SampleRate is the fraction of events sent, in (0, 1]; 0 means 1.
	SampleRate float64 `yaml:"sample_rate"`
}

// Validate checks the sample rate.
func (c Config) Validate() error {
	if c.SampleRate < 0 || c.SampleRate > 1 {
		return fmt.Errorf("sentry.sample_rate %v must be within [0, 1]", c.SampleRate)
	}
	return nil
}

// Reporter sends events. A nil *Reporter is valid and reports nothing, so callers need no
// branch for "off". Safe for concurrent use.
type Reporter struct {
	client *sentry.Client
	hub    *sentry.Hub
}

// New builds a reporter for role ("controlplane", "sfu", ...), or nil when c.DSN is empty.
// release is the build version.
func New(c Config, role, release string) (*Reporter, error) {
	if c.DSN == "" {
		return nil, nil
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	host, _ := os.Hostname() // a pod name: not personal
	client, err := sentry.NewClient(sentry.ClientOptions{
		Dsn:            c.DSN,
		Environment:    c.Environment,
		Release:        release,
		SampleRate:     c.SampleRate,
		SendDefaultPII: false,
		ServerName:     host,
		BeforeSend:     func(e *sentry.Event, _ *sentry.EventHint) *sentry.Event { return scrubEvent(e) },
		// No default integrations: they add the process environment and module list, which
		// may carry secrets passed through the environment.
		Integrations: func([]sentry.Integration) []sentry.Integration { return nil },
	})
	if err != nil {
		return nil, fmt.Errorf("sentry: %w", err)
	}
	scope := sentry.NewScope()
	scope.SetTag("role", role)
	return &Reporter{client: client, hub: sentry.NewHub(client, scope)}, nil
}

// Flush waits up to timeout for queued events to be sent; call it before the process exits.
func (r *Reporter) Flush(timeout time.Duration) bool {
	if r == nil {
		return true
	}
	return r.client.Flush(timeout)
}

// capture sends one log record as an event.
func (r *Reporter) capture(rec slog.Record, attrs []slog.Attr) {
	e := sentry.NewEvent()
	e.Level = sentry.LevelError
	if rec.Level >= slog.LevelError+4 {
		e.Level = sentry.LevelFatal
	}
	e.Message = rec.Message
	e.Timestamp = rec.Time
	e.Logger = "slog"
	fields := map[string]any{}
	add := func(a slog.Attr) {
		if err, ok := a.Value.Any().(error); ok {
			e.Exception = append(e.Exception, sentry.Exception{Type: fmt.Sprintf("%T", err), Value: err.Error()})
			return
		}
		putAttr(fields, "", a)
	}
	for _, a := range attrs {
		add(a)
	}
	rec.Attrs(func(a slog.Attr) bool { add(a); return true })
	if len(fields) > 0 {
		e.Contexts = map[string]sentry.Context{"log": fields}
	}
	r.hub.CaptureEvent(e)
}

// putAttr flattens a (possibly grouped) attribute into fields as "group.key".
func putAttr(fields map[string]any, prefix string, a slog.Attr) {
	v := a.Value.Resolve()
	key := a.Key
	if prefix != "" {
		key = prefix + "." + a.Key
	}
	if v.Kind() == slog.KindGroup {
		for _, g := range v.Group() {
			putAttr(fields, key, g)
		}
		return
	}
	if a.Key == "" {
		return
	}
	fields[key] = v.String()
}

// Handler wraps next so that records at level Error and above are also reported. With a nil
// Reporter it returns next unchanged.
func Handler(next slog.Handler, r *Reporter) slog.Handler {
	if r == nil {
		return next
	}
	return &handler{next: next, r: r}
}

type handler struct {
	next  slog.Handler
	r     *Reporter
	attrs []slog.Attr // from WithAttrs, groups folded in
	group string
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelError || h.next.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	var err error
	if h.next.Enabled(ctx, rec.Level) {
		err = h.next.Handle(ctx, rec)
	}
	if rec.Level >= slog.LevelError {
		if h.group != "" {
			var inner []any
			rec.Attrs(func(a slog.Attr) bool { inner = append(inner, a); return true })
			flat := slog.NewRecord(rec.Time, rec.Level, rec.Message, rec.PC)
			flat.AddAttrs(slog.Group(h.group, inner...))
			rec = flat
		}
		h.r.capture(rec, h.attrs)
	}
	return err
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.next = h.next.WithAttrs(attrs)
	c.attrs = append([]slog.Attr(nil), h.attrs...)
	for _, a := range attrs {
		if h.group != "" {
			a = slog.Group(h.group, a)
		}
		c.attrs = append(c.attrs, a)
	}
	return &c
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.next = h.next.WithGroup(name)
	if h.group != "" {
		c.group = h.group + "." + name
	} else {
		c.group = name
	}
	return &c
}
