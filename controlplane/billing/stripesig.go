package billing

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"
)

// verifyStripeEvent checks a webhook's Stripe-Signature (timestamp within stripeTolerance
// of now either way, HMAC over the raw body with secret) and parses the event. It is all
// the parsing an unauthenticated body goes through.
func verifyStripeEvent(payload []byte, header, secret string, now time.Time) (stripe.Event, error) {
	if err := checkStripeTimestamp(header, now, stripeTolerance); err != nil {
		return stripe.Event{}, err
	}
	return webhook.ConstructEventWithOptions(payload, header, secret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true, IgnoreTolerance: true})
}

// stripeTolerance is how far a Stripe-Signature timestamp may be from our clock, either way.
const stripeTolerance = 5 * time.Minute

// checkStripeTimestamp refuses a Stripe-Signature header whose t= timestamp is missing or
// more than tol away from now in either direction. stripe-go checks only the past, so a
// signature dated ahead stayed replayable for as long as it was dated ahead (issue 17,
// finding 9). The signature itself is checked by stripe-go afterwards.
func checkStripeTimestamp(header string, now time.Time, tol time.Duration) error {
	// Parsed exactly as stripe-go parses it (pairs split on "," and "=", no trimming), and
	// exactly one t= is allowed: stripe-go verifies with the last one, so a header carrying
	// a fresh t= and an old one would otherwise pass this check and replay an old signature.
	var ts string
	n := 0
	for _, pair := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(pair, "t="); ok {
			ts = v
			n++
		}
	}
	if n == 0 {
		return errors.New("no timestamp in Stripe-Signature")
	}
	if n > 1 {
		return errors.New("more than one timestamp in Stripe-Signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("malformed timestamp in Stripe-Signature")
	}
	d := now.Sub(time.Unix(sec, 0))
	if d > tol || d < -tol {
		return errors.New("Stripe-Signature timestamp outside the tolerance")
	}
	return nil
}
