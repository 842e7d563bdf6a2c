package billing_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/atrium-live/atrium/controlplane/billing"
	"github.com/atrium-live/atrium/controlplane/cptest"
	"github.com/atrium-live/atrium/controlplane/store"
)

// A paid Checkout Session webhook delivered 10 times (some at once), plus a second event for
// the same payment, credits once; forged or tampered deliveries are refused and credit nothing.
func TestStripeWebhookCreditsOnce(t *testing.T) {
	w := newWorld(t)
	s := w.env.NewUser(t, "student")
	r, p := w.buy(t, s, "standard", "buy-1")
	r.Want(t, http.StatusCreated)
	if p.Status != "pending" || p.Credits != 120 || p.AmountCents != 2000 || !strings.HasPrefix(p.SessionID, "cs_") || p.CheckoutURL == "" {
		t.Fatalf("purchase = %+v", p)
	}
	r, again := w.buy(t, s, "standard", "buy-1")
	r.Want(t, http.StatusOK)
	if again.ID != p.ID || again.SessionID != p.SessionID {
		t.Fatalf("same Idempotency-Key gave %+v, want %+v", again, p)
	}
	r, _ = w.buy(t, s, "pro", "buy-1")
	r.WantError(t, http.StatusUnprocessableEntity, "conflict")
	r, _ = w.buy(t, s, "gold", "buy-2")
	r.WantError(t, http.StatusUnprocessableEntity, "validation_failed")
	w.env.Do(t, "POST", "/api/v1/wallet/purchases", s.Token, map[string]any{"package_id": "standard"}).
		WantError(t, http.StatusBadRequest, "idempotency_key_required")
	if b := w.balance(t, s); b != 0 {
		t.Fatalf("wallet before payment = %d", b)
	}

	ev := sessionCompleted(t, "evt_"+cptest.RandomHex(8), p)
	for range 5 {
		w.deliver(t, ev, w.secret()).Want(t, http.StatusOK)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := w.deliver(t, ev, w.secret())
			mu.Lock()
			codes[r.Status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusOK] != 5 {
		t.Fatalf("parallel deliveries: %v", codes)
	}
	// The PaymentIntent's own event for the same payment changes nothing either.
	w.deliver(t, stripeEvent(t, "evt_"+cptest.RandomHex(8), "payment_intent.succeeded", map[string]any{"id": "pi_x",
		"object": "payment_intent", "amount_received": 2000, "currency": "usd", "metadata": map[string]string{"purchase_id": p.ID}}), w.secret()).
		Want(t, http.StatusOK)
	if b := w.balance(t, s); b != 120 {
		t.Fatalf("wallet after 11 deliveries = %d, want 120", b)
	}
	metrics := w.env.Scrape(t)
	for _, want := range []string{`atrium_money_stripe_webhooks_total{result="processed"} 2`,
		`atrium_money_stripe_webhooks_total{result="duplicate"} 9`, `atrium_money_purchases_credited_total 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// Forged: another purchase, paid according to a payload signed with the wrong secret.
	_, p2 := w.buy(t, s, "starter", "buy-3")
	forged := sessionCompleted(t, "evt_"+cptest.RandomHex(8), p2)
	w.deliver(t, forged, "whsec_attacker").WantError(t, http.StatusBadRequest, "invalid_signature")
	w.env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/webhooks/stripe", Body: forged}).
		WantError(t, http.StatusBadRequest, "invalid_signature")
	// Tampered: a genuine signature over a different body.
	genuine := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: stripeEvent(t, "evt_x", "customer.created",
		map[string]any{"id": "cus_1"}), Secret: w.secret(), Timestamp: time.Now()})
	w.env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/webhooks/stripe", Body: forged,
		Headers: map[string]string{"Stripe-Signature": genuine.Header}}).WantError(t, http.StatusBadRequest, "invalid_signature")
	// A fresh, genuine event for the purchase already paid credits nothing more.
	w.deliver(t, sessionCompleted(t, "evt_"+cptest.RandomHex(8), p), w.secret()).Want(t, http.StatusOK)
	if b := w.balance(t, s); b != 120 || w.purchases(t, s)[p2.ID].Status != "pending" {
		t.Fatalf("after forgeries: wallet %d, purchase %+v", b, w.purchases(t, s)[p2.ID])
	}

	// Receipts: an email and a downloadable page.
	m := cptest.WaitEmail(t, s.Email, "Your Atrium receipt")
	if !strings.Contains(m.Text, "120") || !strings.Contains(m.Text, "20.00 USD") {
		t.Fatalf("receipt email:\n%s", m.Text)
	}
	rc := w.env.Do(t, "GET", "/api/v1/wallet/purchases/"+p.ID+"/receipt", s.Token, nil).Want(t, http.StatusOK)
	if !strings.HasPrefix(rc.Header.Get("Content-Type"), "text/html") || !strings.Contains(string(rc.Body), "ATR-"+p.ID[:8]) {
		t.Fatalf("receipt page %q:\n%s", rc.Header.Get("Content-Type"), rc.Body)
	}
	other := w.env.NewUser(t, "student")
	w.env.Do(t, "GET", "/api/v1/wallet/purchases/"+p.ID+"/receipt", other.Token, nil).WantError(t, http.StatusNotFound, "not_found")
	w.env.Do(t, "GET", "/api/v1/wallet/purchases/"+p2.ID+"/receipt", s.Token, nil).WantError(t, http.StatusConflict, "purchase_not_paid")
	w.checkLedger(t)
}

// Failed and cancelled payments are recorded and shown; a payment that succeeds after a
// failure still credits; events of other types or other systems are acknowledged and ignored.
func TestStripeFailuresAndOrdering(t *testing.T) {
	w := newWorld(t)
	s := w.env.NewUser(t, "student")
	_, p := w.buy(t, s, "starter", "k1")
	w.deliver(t, stripeEvent(t, "evt_"+cptest.RandomHex(8), "payment_intent.payment_failed", map[string]any{"id": "pi_1",
		"object": "payment_intent", "metadata": map[string]string{"purchase_id": p.ID},
		"last_payment_error": map[string]any{"message": "Your card was declined."}}), w.secret()).Want(t, http.StatusOK)
	got := w.purchases(t, s)[p.ID]
	if got.Status != "failed" || !strings.Contains(got.Failure, "declined") {
		t.Fatalf("after payment_failed: %+v", got)
	}
	w.deliver(t, sessionCompleted(t, "evt_"+cptest.RandomHex(8), p), w.secret()).Want(t, http.StatusOK)
	w.deliver(t, stripeEvent(t, "evt_"+cptest.RandomHex(8), "checkout.session.expired", map[string]any{"id": p.SessionID,
		"object": "checkout.session", "metadata": map[string]string{"purchase_id": p.ID}}), w.secret()).Want(t, http.StatusOK)
	if got := w.purchases(t, s)[p.ID]; got.Status != "paid" || w.balance(t, s) != 50 {
		t.Fatalf("after a late success and a stale expiry: %+v, wallet %d", got, w.balance(t, s))
	}
	_, p2 := w.buy(t, s, "starter", "k2")
	w.deliver(t, stripeEvent(t, "evt_"+cptest.RandomHex(8), "checkout.session.expired", map[string]any{"id": p2.SessionID,
		"object": "checkout.session", "client_reference_id": p2.ID}), w.secret()).Want(t, http.StatusOK)
	if got := w.purchases(t, s)[p2.ID]; got.Status != "cancelled" {
		t.Fatalf("after expiry: %+v", got)
	}
	// A paid amount that differs from the package is not credited.
	_, p3 := w.buy(t, s, "pro", "k3")
	p3.AmountCents = 100
	w.deliver(t, sessionCompleted(t, "evt_"+cptest.RandomHex(8), p3), w.secret()).Want(t, http.StatusOK)
	if got := w.purchases(t, s)[p3.ID]; got.Status != "failed" || w.balance(t, s) != 50 {
		t.Fatalf("after a wrong amount: %+v, wallet %d", got, w.balance(t, s))
	}
	w.deliver(t, stripeEvent(t, "evt_"+cptest.RandomHex(8), "customer.created", map[string]any{"id": "cus_1", "object": "customer"}),
		w.secret()).Want(t, http.StatusOK)
	w.deliver(t, stripeEvent(t, "evt_"+cptest.RandomHex(8), "checkout.session.completed", map[string]any{"id": "cs_foreign",
		"object": "checkout.session", "payment_status": "paid"}), w.secret()).Want(t, http.StatusOK)
	w.checkLedger(t)
}

// An event whose processing failed is stored and retried by the billing.stripe_event job.
func TestStripeEventRetryJob(t *testing.T) {
	w := newWorld(t)
	s := w.env.NewUser(t, "student")
	_, p := w.buy(t, s, "starter", "k1")
	id := "evt_" + cptest.RandomHex(8)
	ctx := context.Background()
	st := w.env.Server.Store
	if _, err := st.InsertStripeEvent(ctx, store.StripeEvent{ID: id, Type: "checkout.session.completed", Status: "failed",
		LastError: "database restarted", Payload: sessionCompleted(t, id, p)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A redelivery meanwhile is acknowledged and left to the job.
	w.deliver(t, sessionCompleted(t, id, p), w.secret()).Want(t, http.StatusOK)
	if _, err := w.env.Server.Jobs.Insert(ctx, billing.StripeEventArgs{EventID: id}, nil); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for w.balance(t, s) != 50 {
		if time.Now().After(deadline) {
			t.Fatalf("the retry job did not credit the purchase within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if status, err := st.StripeEventStatus(ctx, id); err != nil || status != "processed" {
		t.Fatalf("event status %q, %v", status, err)
	}
	w.checkLedger(t)
}

func TestReconciliationRuns(t *testing.T) {
	w := newWorld(t)
	var run struct {
		ID            int64            `json:"id"`
		Checked       int              `json:"checked"`
		Fixed         int              `json:"fixed"`
		Discrepancies []map[string]any `json:"discrepancies"`
	}
	w.env.Do(t, "POST", "/api/v1/admin/reconciliation", w.admin.Token, nil).Want(t, http.StatusOK).JSON(t, &run)
	// stripe-mock answers with its fixture session, which is not one of ours.
	if run.ID == 0 || run.Checked < 1 || run.Fixed != 0 || len(run.Discrepancies) != 0 {
		t.Fatalf("run = %+v", run)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	w.env.Do(t, "GET", "/api/v1/admin/reconciliation", w.admin.Token, nil).Want(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) == 0 {
		t.Fatal("no reconciliation runs listed")
	}
}

// Grants come from the promotions account, are audited, validated, and repeat-safe.
func TestAdminGrantsAndWalletHistory(t *testing.T) {
	w := newWorld(t)
	s := w.env.NewUser(t, "student")
	grant := func(body map[string]any, key string) *cptest.Response {
		h := map[string]string{}
		if key != "" {
			h["Idempotency-Key"] = key
		}
		return w.env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/admin/credits/grants", Token: w.admin.Token,
			Body: body, Headers: h})
	}
	ok := map[string]any{"user_id": s.ID, "credits": 30, "reason": "sorry for the outage"}
	grant(ok, "g1").Want(t, http.StatusCreated)
	grant(ok, "g1").Want(t, http.StatusOK)
	grant(map[string]any{"user_id": s.ID, "credits": 7, "reason": "welcome"}, "").Want(t, http.StatusCreated)
	for _, bad := range []map[string]any{
		{"user_id": s.ID, "credits": -5, "reason": "negative"},
		{"user_id": s.ID, "credits": 1_000_000_000, "reason": "huge"},
		{"user_id": "00000000-0000-0000-0000-000000000000", "credits": 5, "reason": "nobody"},
		{"user_id": s.ID, "credits": 5, "reason": ""},
	} {
		grant(bad, "").WantError(t, http.StatusUnprocessableEntity, "validation_failed")
	}
	w.env.Do(t, "POST", "/api/v1/admin/credits/grants", s.Token, ok).WantError(t, http.StatusForbidden, "forbidden")
	if b := w.balance(t, s); b != 37 {
		t.Fatalf("wallet = %d, want 37", b)
	}
	var audit struct {
		Items []map[string]any `json:"items"`
	}
	w.env.Do(t, "GET", "/api/v1/admin/audit-log?action=credits.granted&target_id="+s.ID, w.admin.Token, nil).
		Want(t, http.StatusOK).JSON(t, &audit)
	if len(audit.Items) != 2 {
		t.Fatalf("audit entries = %v", audit.Items)
	}
	var page struct {
		Items []struct {
			Credits int    `json:"credits"`
			Kind    string `json:"kind"`
		} `json:"items"`
		Next *string `json:"next_cursor"`
	}
	w.env.Do(t, "GET", "/api/v1/wallet/transactions?limit=1", s.Token, nil).Want(t, http.StatusOK).JSON(t, &page)
	if len(page.Items) != 1 || page.Items[0].Credits != 7 || page.Next == nil {
		t.Fatalf("first page = %+v", page)
	}
	w.env.Do(t, "GET", "/api/v1/wallet/transactions?limit=1&cursor="+*page.Next, s.Token, nil).Want(t, http.StatusOK).JSON(t, &page)
	if len(page.Items) != 1 || page.Items[0].Credits != 30 || page.Items[0].Kind != "grant" {
		t.Fatalf("second page = %+v", page)
	}
	w.checkLedger(t)
}
