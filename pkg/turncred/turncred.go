// Package turncred implements coturn's time-limited shared-secret credentials ("TURN REST API",
// draft-uberti-behave-turn-rest-00 §2.2): username = "<unix expiry>:<identity>",
// password = base64(HMAC-SHA1(secret, username)).
//
// The SFU mints them for JoinResponse.ice_servers; the TURN server verifies them. Both sides
// import only this package, so neither imports the other. Safe for concurrent use.
package turncred

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ErrExpired is returned by Verify for a username whose expiry has passed.
var ErrExpired = errors.New("turncred: credentials expired")

// ErrMalformed is returned by Verify for a username not of the form "<expiry>:<identity>".
var ErrMalformed = errors.New("turncred: malformed username")

// Generate returns a username valid until now+ttl and its password under secret.
func Generate(secret, identity string, ttl time.Duration, now time.Time) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + identity
	return username, Password(secret, username)
}

// Password is base64(HMAC-SHA1(secret, username)).
func Password(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Expiry parses the expiry and identity out of a username.
func Expiry(username string) (time.Time, string, error) {
	ts, identity, ok := strings.Cut(username, ":")
	if !ok {
		// coturn also accepts a bare timestamp.
		ts = username
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sec <= 0 {
		return time.Time{}, "", fmt.Errorf("%w: %q", ErrMalformed, username)
	}
	return time.Unix(sec, 0), identity, nil
}

// Verify reports whether username is well formed and unexpired at now. It does not check the
// password: TURN compares message integrity with the key derived from Password(secret, username).
func Verify(username string, now time.Time) (identity string, err error) {
	exp, identity, err := Expiry(username)
	if err != nil {
		return "", err
	}
	if !now.Before(exp) {
		return "", fmt.Errorf("%w at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	return identity, nil
}
