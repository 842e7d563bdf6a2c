package turn

import (
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/atrium-live/atrium/pkg/turncred"
	"github.com/pion/stun/v4"
	pionturn "github.com/pion/turn/v5"
)

// authenticator checks coturn REST credentials (pkg/turncred) for pion. pion then verifies the
// MESSAGE-INTEGRITY with the key returned here and answers 401 itself when the password is
// wrong (counted through onAuth). Safe for concurrent use.
type authenticator struct {
	secrets      *secretSet
	refreshGrace time.Duration
	now          func() time.Time
	metrics      *metrics
	log          *slog.Logger
}

// handle is a pion AuthHandler. The returned user id, the identity part of the username, is
// what quotas count. An Allocate needs unexpired credentials; other requests on an existing
// allocation accept credentials expired for less than refreshGrace.
func (a *authenticator) handle(ra *pionturn.RequestAttributes) (userID string, key []byte, ok bool) {
	now := a.now()
	if ra.Method != stun.MethodAllocate {
		now = now.Add(-a.refreshGrace)
	}
	identity, err := turncred.Verify(ra.Username, now)
	if err != nil {
		reason := "malformed"
		if errors.Is(err, turncred.ErrExpired) {
			reason = "expired"
		}
		a.metrics.authFailures.WithLabelValues(reason).Inc()
		a.log.Debug("turn: credentials refused", "reason", reason, "method", ra.Method.String())
		return "", nil, false
	}
	if identity == "" {
		// A bare-timestamp username has no identity: quota it as a whole.
		identity = ra.Username
	}
	password := turncred.Password(a.secrets.secretFor(ra.SrcAddr, ra.Username), ra.Username)
	return identity, pionturn.GenerateAuthKey(ra.Username, ra.Realm, password), true
}

// onAuth is pion's OnAuth event: a false verdict means the username was acceptable but the
// message integrity did not match, that is, a wrong password (or secret).
func (a *authenticator) onAuth(_, _ net.Addr, _, _, _, method string, verdict bool) {
	if verdict {
		return
	}
	a.metrics.authFailures.WithLabelValues("bad_password").Inc()
	a.log.Debug("turn: wrong password", "method", method)
}
