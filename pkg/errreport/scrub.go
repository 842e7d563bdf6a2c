package errreport

import (
	"net/netip"
	"regexp"
	"strings"

	"github.com/getsentry/sentry-go"
)

var (
	emailRe = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	// bearerRe catches "Bearer <anything>" and "Basic <anything>" credentials.
	bearerRe = regexp.MustCompile(`(?i)\b(bearer|basic)\s+[^\s"',;]+`)
	// secretParamRe catches key=value and "key": "value" pairs whose key names a secret.
	secretParamRe = regexp.MustCompile(`(?i)((?:access_?token|refresh_?token|token|secret|password|passwd|api_?key|apikey|signature|otp)["']?\s*[=:]\s*["']?)[^\s"'&,;)\]}]+`)
	// tokenRe catches opaque tokens: JWTs and any run of 32+ token characters (API secrets,
	// session ids, base64 keys). UUIDs (36 characters) count: a user id is personal data.
	tokenRe = regexp.MustCompile(`[A-Za-z0-9_\-+/=.]{32,}`)
	// IP candidates (netip decides): IPv4 with an optional port, bracketed IPv6 with an
	// optional port, bare IPv6 with an optional zone.
	ipv4Re        = regexp.MustCompile(`\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b`)
	ipv6BracketRe = regexp.MustCompile(`\[[0-9A-Fa-f:.]+(?:%[\w.]+)?\](?::\d{1,5})?`)
	ipv6Re        = regexp.MustCompile(`(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f.]*(?:%[\w.]+)?`)
)

// Scrub removes email addresses, IP addresses and tokens from s, replacing each with a
// marker ("[email]", "[ip]", "[token]", "[redacted]"), so an error message can be reported
// without the personal data or secrets it may quote.
func Scrub(s string) string {
	s = emailRe.ReplaceAllString(s, "[email]")
	s = bearerRe.ReplaceAllString(s, "$1 [token]")
	s = secretParamRe.ReplaceAllString(s, "${1}[redacted]")
	s = tokenRe.ReplaceAllStringFunc(s, func(m string) string {
		if strings.Count(m, ".") >= 3 && isDottedNumber(m) {
			return m // a long version or dotted number, not a token
		}
		return "[token]"
	})
	s = ipv4Re.ReplaceAllStringFunc(s, func(m string) string {
		host, _, _ := strings.Cut(m, ":")
		if _, err := netip.ParseAddr(host); err == nil {
			return "[ip]"
		}
		return m
	})
	s = ipv6BracketRe.ReplaceAllStringFunc(s, func(m string) string {
		if _, err := netip.ParseAddr(m[1:strings.IndexByte(m, ']')]); err == nil {
			return "[ip]"
		}
		return m
	})
	return ipv6Re.ReplaceAllStringFunc(s, func(m string) string {
		if _, err := netip.ParseAddr(m); err == nil {
			return "[ip]"
		}
		return m
	})
}

func isDottedNumber(s string) bool {
	for _, r := range s {
		if r != '.' && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// sensitiveKey reports whether an attribute's name suggests a secret or personal data, so
// its value is left out entirely rather than scrubbed.
func sensitiveKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"email", "mail", "ip", "addr", "token", "secret", "password", "passwd",
		"key", "cookie", "authorization", "auth", "phone", "name", "user_agent", "useragent"} {
		if k == s || strings.HasSuffix(k, "_"+s) || strings.HasSuffix(k, "."+s) || strings.HasPrefix(k, s+"_") {
			return true
		}
	}
	return false
}

// scrubEvent is the BeforeSend hook: it drops request and user data and scrubs every string
// that reaches the service.
func scrubEvent(e *sentry.Event) *sentry.Event {
	e.Request = nil
	e.User = sentry.User{}
	e.Message = Scrub(e.Message)
	for i := range e.Exception {
		e.Exception[i].Value = Scrub(e.Exception[i].Value)
	}
	for k, v := range e.Tags {
		e.Tags[k] = Scrub(v)
	}
	for _, b := range e.Breadcrumbs {
		b.Message = Scrub(b.Message)
		b.Data = nil
	}
	for name, c := range e.Contexts {
		for k, v := range c {
			if name == "log" && sensitiveKey(k) {
				delete(c, k)
				continue
			}
			if s, ok := v.(string); ok {
				c[k] = Scrub(s)
			}
		}
	}
	return e
}
