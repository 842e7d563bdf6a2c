package api

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/atrium-live/atrium/controlplane/problem"
)

// Browser sessions (docs/security.md, "Sessions across tabs"). The browser UI keeps its
// refresh token in an httpOnly cookie scoped to the auth API path, so every tab and every
// email link of the browser is signed in, while access tokens stay short-lived and in each
// tab's memory (a new tab asks /auth/refresh for one). API clients that send the refresh
// token in the JSON body and never send the CSRF header are served as before: no cookie.
const (
	// RefreshCookie holds the refresh token (httpOnly, SameSite=Strict, path CookiePath).
	RefreshCookie = "atrium_refresh"
	// HintCookie is readable by scripts and says only "a session cookie probably exists", so
	// a fresh tab does not call /auth/refresh (and log a 401) when nobody is signed in.
	HintCookie = "atrium_session"
	// CookiePath scopes the refresh cookie to the endpoints that read it.
	CookiePath = "/api/v1/auth"
	// CSRFHeader must accompany every cookie-authenticated call. A cross-site page cannot
	// send a custom header without a CORS preflight, which we never grant with credentials.
	CSRFHeader = "X-Atrium-CSRF"
	// CodeCSRF is the 403 for a cookie call without the header or from another origin.
	CodeCSRF = "csrf_failed"
)

// csrfCheck decides whether a request may use the session cookie (a pure function, table
// tested). It needs the CSRF header; when the browser says where the request comes from
// (Origin, Sec-Fetch-Site), that must be this very origin: selfOrigins are the request's
// own scheme://host and the configured public URL. Same-site but cross-origin pages (another
// port, another subdomain) get the cookie under SameSite and are refused here.
func csrfCheck(header, origin, fetchSite string, selfOrigins []string) (ok bool, why string) {
	if header == "" {
		return false, "missing " + CSRFHeader + " header"
	}
	if fetchSite != "" && fetchSite != "same-origin" {
		return false, "cross-origin request (Sec-Fetch-Site: " + fetchSite + ")"
	}
	if origin == "" {
		return true, ""
	}
	for _, o := range selfOrigins {
		if o != "" && strings.EqualFold(origin, o) {
			return true, ""
		}
	}
	return false, "request from another origin"
}

// selfOrigins are the origins our own pages are served from for this request.
func (h *Handler) selfOrigins(r *http.Request) []string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	out := []string{scheme + "://" + r.Host}
	if u, err := url.Parse(h.PublicURL); err == nil && u.Host != "" {
		out = append(out, u.Scheme+"://"+u.Host)
	}
	return out
}

// cookieMode reports whether the caller is the browser UI asking for cookie sessions (it
// sent the CSRF header). A request with the header from another origin is refused (403), so
// a page elsewhere can neither use nor plant a session cookie.
func (h *Handler) cookieMode(r *http.Request) (bool, error) {
	hdr := r.Header.Get(CSRFHeader)
	if hdr == "" {
		return false, nil
	}
	if ok, why := csrfCheck(hdr, r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"), h.selfOrigins(r)); !ok {
		return false, problem.New(http.StatusForbidden, CodeCSRF, "refused: "+why)
	}
	return true, nil
}

// csrfRefusal is the 403 for a request that carries the session cookie without the header.
func csrfRefusal(r *http.Request) error {
	_, why := csrfCheck("", r.Header.Get("Origin"), r.Header.Get("Sec-Fetch-Site"), nil)
	return problem.New(http.StatusForbidden, CodeCSRF, "refused: "+why+" (cookie sessions need it)")
}

// refreshFromCookie returns the refresh token in the request's cookie, or "".
func refreshFromCookie(r *http.Request) string {
	c, err := r.Cookie(RefreshCookie)
	if err != nil {
		return ""
	}
	return c.Value
}

// setSessionCookies stores a refresh token (until expires) in the cookie, plus the hint.
// Secure when the request came over TLS or the public URL is https.
func (h *Handler) setSessionCookies(w http.ResponseWriter, r *http.Request, token string, expires time.Time) {
	secure := h.SecureCookies || r.TLS != nil
	maxAge := int(time.Until(expires).Seconds())
	if maxAge < 1 {
		maxAge = 1
	}
	http.SetCookie(w, &http.Cookie{Name: RefreshCookie, Value: token, Path: CookiePath, MaxAge: maxAge,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: HintCookie, Value: "1", Path: "/", MaxAge: maxAge,
		Secure: secure, SameSite: http.SameSiteStrictMode})
}

// clearSessionCookies removes both cookies.
func (h *Handler) clearSessionCookies(w http.ResponseWriter, r *http.Request) {
	secure := h.SecureCookies || r.TLS != nil
	http.SetCookie(w, &http.Cookie{Name: RefreshCookie, Value: "", Path: CookiePath, MaxAge: -1,
		HttpOnly: true, Secure: secure, SameSite: http.SameSiteStrictMode})
	http.SetCookie(w, &http.Cookie{Name: HintCookie, Value: "", Path: "/", MaxAge: -1,
		Secure: secure, SameSite: http.SameSiteStrictMode})
}
