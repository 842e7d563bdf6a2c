package billing

import (
	"bytes"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"
)

func TestCheckStripeTimestamp(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) string { return "t=" + strconv.FormatInt(now.Add(d).Unix(), 10) + ",v1=abc" }
	for _, tc := range []struct {
		header string
		ok     bool
	}{
		{at(0), true},
		{at(-4 * time.Minute), true},
		{at(4 * time.Minute), true},
		{at(-10 * time.Minute), false},
		{at(10 * time.Minute), false}, // the future is refused too
		{at(72 * time.Hour), false},
		{"v1=abc", false},
		{"t=soon,v1=abc", false},
		{"", false},
		{"v1=abc,t=" + strconv.FormatInt(now.Unix(), 10), true},
		{"v1=abc, t=" + strconv.FormatInt(now.Unix(), 10), false}, // stripe-go would not see this t=
		// A fresh t= before an old one: stripe-go verifies with the last, so refuse both.
		{at(0) + ",t=" + strconv.FormatInt(now.Add(-time.Hour).Unix(), 10), false},
	} {
		err := checkStripeTimestamp(tc.header, now, stripeTolerance)
		if (err == nil) != tc.ok {
			t.Errorf("checkStripeTimestamp(%q) = %v, want ok=%v", tc.header, err, tc.ok)
		}
	}
}

// FuzzVerifyStripeEvent: Stripe webhooks are reachable by anyone. Verification never
// panics; an event passes only with a valid signature over exactly that body.
func FuzzVerifyStripeEvent(f *testing.F) {
	const secret = "whsec_fuzz"
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"id":"evt_1","object":"event","type":"checkout.session.completed","data":{"object":{"id":"cs_1"}}}`)
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: now})
	f.Add(body, signed.Header)
	f.Add(body, "t=1800000000,v1=00")
	f.Add([]byte(`{`), signed.Header)
	f.Add(body, "t=99999999999999999999,v1=")
	f.Add(body, "")
	old := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: now.Add(-time.Hour)})
	f.Add(body, "t=1800000000,"+old.Header) // a fresh t= in front of an old signed header
	f.Fuzz(func(t *testing.T, payload []byte, header string) {
		if _, err := verifyStripeEvent(payload, header, secret, now); err != nil {
			return
		}
		// Accepted: one v1= value must be our HMAC of this body at the header's timestamp
		// (hex in either case: the fuzzer found that upper case decodes to the same bytes).
		var ts int64
		var sigs [][]byte
		for _, p := range strings.Split(header, ",") {
			if v, ok := strings.CutPrefix(p, "t="); ok {
				ts, _ = strconv.ParseInt(v, 10, 64) // the last one, as stripe-go reads it
			}
			if v, ok := strings.CutPrefix(p, "v1="); ok {
				if b, err := hex.DecodeString(v); err == nil {
					sigs = append(sigs, b)
				}
			}
		}
		want := webhook.ComputeSignature(time.Unix(ts, 0), payload, secret)
		for _, b := range sigs {
			if bytes.Equal(b, want) {
				return
			}
		}
		t.Fatalf("verified without a valid signature: %q", header)
	})
}
