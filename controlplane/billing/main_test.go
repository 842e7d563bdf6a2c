package billing_test

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

func TestMain(m *testing.M) { os.Exit(cptest.Main(m)) }

type world struct {
	env   *cptest.Env
	admin *cptest.User
}

func newWorld(t *testing.T) *world {
	t.Helper()
	env := cptest.Serve(t)
	return &world{env: env, admin: env.NewUser(t, "admin")}
}

type purchase struct {
	ID          string `json:"id"`
	Status      string `json:"status"`
	Credits     int    `json:"credits"`
	AmountCents int64  `json:"amount_cents"`
	CheckoutURL string `json:"checkout_url"`
	SessionID   string `json:"checkout_session_id"`
	Failure     string `json:"failure_reason"`
}

func (w *world) buy(t *testing.T, u *cptest.User, pkg, key string) (*cptest.Response, purchase) {
	t.Helper()
	r := w.env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/wallet/purchases", Token: u.Token,
		Body: map[string]any{"package_id": pkg}, Headers: map[string]string{"Idempotency-Key": key}})
	var p purchase
	if r.Status < 300 {
		r.JSON(t, &p)
	}
	return r, p
}

func (w *world) balance(t *testing.T, u *cptest.User) int {
	t.Helper()
	var out struct {
		Balance int `json:"balance_credits"`
	}
	w.env.Do(t, "GET", "/api/v1/wallet", u.Token, nil).Want(t, http.StatusOK).JSON(t, &out)
	return out.Balance
}

func (w *world) purchases(t *testing.T, u *cptest.User) map[string]purchase {
	t.Helper()
	var out struct {
		Items []purchase `json:"items"`
	}
	w.env.Do(t, "GET", "/api/v1/wallet/purchases", u.Token, nil).Want(t, http.StatusOK).JSON(t, &out)
	m := map[string]purchase{}
	for _, p := range out.Items {
		m[p.ID] = p
	}
	return m
}

// stripeEvent is a Stripe event as its webhook body.
func stripeEvent(t *testing.T, id, typ string, obj map[string]any) []byte {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"id": id, "object": "event", "api_version": stripe.APIVersion,
		"created": time.Now().Unix(), "type": typ, "livemode": false, "pending_webhooks": 1,
		"data": map[string]any{"object": obj}})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// sessionCompleted is checkout.session.completed for purchase p, paid.
func sessionCompleted(t *testing.T, id string, p purchase) []byte {
	return stripeEvent(t, id, "checkout.session.completed", map[string]any{"id": p.SessionID, "object": "checkout.session",
		"payment_status": "paid", "status": "complete", "client_reference_id": p.ID, "amount_total": p.AmountCents,
		"currency": "usd", "metadata": map[string]string{"purchase_id": p.ID}})
}

// deliver posts payload to /webhooks/stripe signed with secret, as Stripe would.
func (w *world) deliver(t testing.TB, payload []byte, secret string) *cptest.Response {
	t.Helper()
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: time.Now()})
	return w.env.DoRequest(t, cptest.Request{Method: "POST", Path: "/api/v1/webhooks/stripe", Body: payload,
		Headers: map[string]string{"Stripe-Signature": signed.Header}})
}

func (w *world) secret() string { return w.env.Config.Money.Stripe.WebhookSecret }

func (w *world) checkLedger(t *testing.T) {
	t.Helper()
	var rep struct {
		OK            bool             `json:"ok"`
		Discrepancies []map[string]any `json:"discrepancies"`
	}
	w.env.Do(t, "GET", "/api/v1/admin/ledger/check", w.admin.Token, nil).Want(t, http.StatusOK).JSON(t, &rep)
	if !rep.OK {
		t.Fatalf("ledger check failed: %v", rep.Discrepancies)
	}
}
