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
	var ts string
	for _, part := range strings.Split(header, ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(part), "t="); ok {
			ts = v
			break
		}
	}
	if ts == "" {
		return errors.New("no timestamp in Stripe-Signature")
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
