package billing

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

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
