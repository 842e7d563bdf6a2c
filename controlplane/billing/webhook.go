package billing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"

	"github.com/stripe/stripe-go/v85"

	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Stripe event types billing acts on; every other type is stored as "ignored".
var handledEvents = map[string]bool{
	"checkout.session.completed":               true,
	"checkout.session.async_payment_succeeded": true,
	"checkout.session.async_payment_failed":    true,
	"checkout.session.expired":                 true,
	"payment_intent.succeeded":                 true,
	"payment_intent.payment_failed":            true,
	"payment_intent.canceled":                  true,
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// stripeObject holds the fields billing reads from a Checkout Session or PaymentIntent.
type stripeObject struct {
	ID                string            `json:"id"`
	Object            string            `json:"object"`
	PaymentStatus     string            `json:"payment_status"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	AmountTotal       int64             `json:"amount_total"`
	AmountReceived    int64             `json:"amount_received"`
	Currency          string            `json:"currency"`
	LastPaymentError  *struct {
		Message string `json:"message"`
	} `json:"last_payment_error"`
}

// ReceiveWebhook verifies a Stripe webhook (Stripe-Signature over the raw body with the
// endpoint secret, timestamp within 5 minutes of our clock either way) and processes it once per event id. A bad
// signature is a 400 and nothing is stored. If processing fails, the event is stored as
// failed and a job retries it, so the answer is still 200 and Stripe stops resending.
func (s *Service) ReceiveWebhook(ctx context.Context, payload []byte, signature string) error {
	ev, err := verifyStripeEvent(payload, signature, s.cfg.StripeWebhookSecret, s.Now())
	if err != nil {
		s.Log.Debug("stripe webhook refused", "err", err) // the API logs refusals, rate-limited per client
		s.Metrics.webhook("invalid_signature")
		return problem.New(http.StatusBadRequest, CodeInvalidStripeSignature, "Stripe-Signature is missing or invalid")
	}
	if ev.ID == "" || ev.Type == "" || ev.Data == nil {
		return problem.New(http.StatusBadRequest, problem.CodeBadRequest, "event has no id, type or data")
	}
	if _, err := s.Store.StripeEventStatus(ctx, ev.ID); err == nil {
		s.Metrics.webhook("duplicate")
		return nil // seen before: processed, ignored, or failed and owned by the retry job
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	status := "processed"
	if !handledEvents[string(ev.Type)] {
		status = "ignored"
	}
	fresh := false
	procErr := s.Store.InTx(ctx, func(tx *store.Store) error {
		var err error
		fresh, err = tx.InsertStripeEvent(ctx, store.StripeEvent{ID: ev.ID, Type: string(ev.Type), Status: status, Payload: payload}, s.Now())
		if err != nil || !fresh || status == "ignored" {
			return err
		}
		return s.apply(ctx, tx, ev)
	})
	if procErr == nil {
		if !fresh {
			status = "duplicate" // a concurrent delivery stored it first
		}
		s.Metrics.webhook(status)
		return nil
	}
	s.Metrics.webhook("queued_for_retry")
	s.Log.Error("stripe webhook processing failed; queued for retry", "event_id", ev.ID, "type", ev.Type, "err", procErr)
	return s.Store.InTx(ctx, func(tx *store.Store) error {
		fresh, err := tx.InsertStripeEvent(ctx, store.StripeEvent{ID: ev.ID, Type: string(ev.Type), Status: "failed",
			LastError: procErr.Error(), Payload: payload}, s.Now())
		if err != nil || !fresh {
			return err
		}
		_, err = s.Jobs.InsertTx(ctx, tx.Tx(), StripeEventArgs{EventID: ev.ID}, nil)
		return err
	})
}

// CodeInvalidStripeSignature is the 400 for a Stripe webhook that does not verify.
const CodeInvalidStripeSignature = "invalid_signature"

// retryEvent reprocesses a stored failed event (the billing.stripe_event job). The event row
// stays locked while it runs, so concurrent retries serialize.
func (s *Service) retryEvent(ctx context.Context, id string) error {
	err := s.Store.InTx(ctx, func(tx *store.Store) error {
		e, err := tx.StripeEventForUpdate(ctx, id)
		if err != nil || e.Status != "failed" {
			return err
		}
		var ev stripe.Event
		if err := json.Unmarshal(e.Payload, &ev); err != nil {
			return fmt.Errorf("billing: stored event %s: %w", id, err)
		}
		if err := s.apply(ctx, tx, ev); err != nil {
			return err
		}
		return tx.SetStripeEventStatus(ctx, id, "processed", "", s.Now())
	})
	if err != nil {
		if merr := s.Store.SetStripeEventStatus(ctx, id, "failed", err.Error(), s.Now()); merr != nil {
			s.Log.Error("billing: record failed retry", "event_id", id, "err", merr)
		}
		return fmt.Errorf("billing: retry stripe event %s: %w", id, err)
	}
	return nil
}

// apply acts on one verified event inside tx.
func (s *Service) apply(ctx context.Context, tx *store.Store, ev stripe.Event) error {
	var obj stripeObject
	if err := json.Unmarshal(ev.Data.Raw, &obj); err != nil {
		return fmt.Errorf("billing: event %s object: %w", ev.ID, err)
	}
	purchaseID := obj.Metadata["purchase_id"]
	if purchaseID == "" {
		purchaseID = obj.ClientReferenceID
	}
	if !uuidRE.MatchString(purchaseID) && obj.Object == "checkout.session" && obj.ID != "" {
		if p, err := tx.PurchaseBySession(ctx, obj.ID); err == nil {
			purchaseID = p.ID
		}
	}
	if !uuidRE.MatchString(purchaseID) {
		s.Log.Info("stripe event without an Atrium purchase ignored", "event_id", ev.ID, "type", ev.Type)
		return nil
	}
	p, err := tx.PurchaseForUpdate(ctx, purchaseID)
	if errors.Is(err, store.ErrNotFound) {
		s.Log.Warn("stripe event for an unknown purchase ignored", "event_id", ev.ID, "purchase_id", purchaseID)
		return nil
	}
	if err != nil {
		return err
	}
	switch ev.Type {
	case "checkout.session.completed", "checkout.session.async_payment_succeeded":
		if obj.PaymentStatus != "paid" && obj.PaymentStatus != "no_payment_required" {
			return nil // an asynchronous payment method: wait for async_payment_succeeded
		}
		return s.credit(ctx, tx, p, "stripe:"+ev.ID, obj.AmountTotal, obj.Currency)
	case "payment_intent.succeeded":
		return s.credit(ctx, tx, p, "stripe:"+ev.ID, obj.AmountReceived, obj.Currency)
	case "checkout.session.async_payment_failed", "payment_intent.payment_failed":
		reason := "the payment failed"
		if obj.LastPaymentError != nil && obj.LastPaymentError.Message != "" {
			reason = "the payment failed: " + obj.LastPaymentError.Message
		}
		return s.fail(ctx, tx, p, store.PurchaseFailed, reason)
	case "checkout.session.expired", "payment_intent.canceled":
		return s.fail(ctx, tx, p, store.PurchaseCancelled, "the checkout was abandoned or cancelled")
	}
	return nil
}

// credit credits p for a payment Stripe reports, only when the paid amount and currency are
// the purchase's: a missing amount (zero) or another currency is not a payment of this
// package (issue 17, finding 10). A mismatch fails the purchase for review, unless it was
// already paid by another event.
func (s *Service) credit(ctx context.Context, tx *store.Store, p store.Purchase, source string, amount int64, currency string) error {
	if !paymentMatches(p, amount, currency) {
		s.Log.Error("stripe amount or currency differs from the purchase; not credited", "purchase_id", p.ID, "amount", amount,
			"currency", currency, "expected", p.AmountCents, "expected_currency", p.Currency)
		if p.Status == store.PurchasePaid {
			return nil
		}
		return tx.SetPurchaseStatus(ctx, p.ID, store.PurchaseFailed, "paid amount differs from the package price; under review", s.Now())
	}
	_, err := s.creditPurchase(ctx, tx, p.ID, source, 0)
	return err
}

// paymentMatches reports whether Stripe's amount (minor units) and currency are p's.
func paymentMatches(p store.Purchase, amount int64, currency string) bool {
	return amount == p.AmountCents && strings.EqualFold(currency, p.Currency)
}

// fail records a failed or cancelled payment unless the purchase was paid meanwhile
// (events can arrive out of order; a payment always wins).
func (s *Service) fail(ctx context.Context, tx *store.Store, p store.Purchase, status, reason string) error {
	if p.Status == store.PurchasePaid {
		return nil
	}
	return tx.SetPurchaseStatus(ctx, p.ID, status, reason, s.Now())
}
