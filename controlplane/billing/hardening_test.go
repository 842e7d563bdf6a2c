package billing_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

// Issue 17, finding 9: a signature dated 10 minutes ahead was accepted (10 minutes behind
// was refused). The tolerance applies both ways.
func TestStripeSignatureFromTheFutureRefused(t *testing.T) {
	w := newWorld(t)
	s := w.env.NewUser(t, "student")
	_, p := w.buy(t, s, "starter", "future-1")
	payload := sessionCompleted(t, "evt_"+cptest.RandomHex(8), p)
	for _, d := range []time.Duration{10 * time.Minute, -10 * time.Minute, 72 * time.Hour} {
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: w.secret(), Timestamp: time.Now().Add(d)})
		w.env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/webhooks/stripe", Body: payload,
			Headers: map[string]string{"Stripe-Signature": signed.Header}}).WantError(t, http.StatusBadRequest, "invalid_signature")
	}
	// An old signed header with a fresh t= in front: stripe-go verifies with the last t=, so
	// two timestamps are refused (found by FuzzVerifyStripeEvent's neighbourhood).
	stale := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: w.secret(), Timestamp: time.Now().Add(-time.Hour)})
	w.env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/webhooks/stripe", Body: payload,
		Headers: map[string]string{"Stripe-Signature": "t=" + strconv.FormatInt(time.Now().Unix(), 10) + "," + stale.Header}}).
		WantError(t, http.StatusBadRequest, "invalid_signature")
	if b := w.balance(t, s); b != 0 {
		t.Fatalf("wallet after refused deliveries = %d", b)
	}
	w.deliver(t, payload, w.secret()).Want(t, http.StatusOK)
	if b := w.balance(t, s); b != 50 {
		t.Fatalf("wallet after a timely delivery = %d, want 50", b)
	}
}

// Issue 17, finding 10: a paid checkout.session.completed without amount_total credited the
// package (the check was skipped for 0). Credit only when amount and currency match.
func TestStripeAmountAndCurrencyMustMatch(t *testing.T) {
	w := newWorld(t)
	s := w.env.NewUser(t, "student")
	for i, obj := range []map[string]any{
		{"amount_total": nil, "currency": "usd"},     // no amount
		{"amount_total": 0, "currency": "usd"},       // zero
		{"amount_total": "match", "currency": "eur"}, // right amount, other currency
		{"amount_total": "match", "currency": nil},   // no currency
	} {
		_, p := w.buy(t, s, "starter", "amount-"+cptest.RandomHex(4))
		o := map[string]any{"id": p.SessionID, "object": "checkout.session", "payment_status": "paid", "status": "complete",
			"client_reference_id": p.ID, "metadata": map[string]string{"purchase_id": p.ID}}
		for k, v := range obj {
			switch v {
			case nil:
			case "match":
				o[k] = p.AmountCents
			default:
				o[k] = v
			}
		}
		w.deliver(t, stripeEvent(t, "evt_"+cptest.RandomHex(8), "checkout.session.completed", o), w.secret()).Want(t, http.StatusOK)
		if got := w.purchases(t, s)[p.ID]; got.Status == "paid" {
			t.Errorf("case %d (%v): purchase credited", i, obj)
		}
	}
	if b := w.balance(t, s); b != 0 {
		t.Errorf("wallet = %d, want 0", b)
	}
	w.checkLedger(t)
}
