package billing

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/stripe/stripe-go/v85"

	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// CodeStripeUnavailable is the 502 when Stripe cannot be reached or refuses a call.
const CodeStripeUnavailable = "payment_provider_error"

// PurchaseInput starts buying a credit package.
type PurchaseInput struct {
	UserID         string
	PackageID      string
	IdempotencyKey string
}

// CreatePurchase records a pending purchase and creates its Stripe Checkout Session; the
// browser goes to CheckoutURL. The same Idempotency-Key returns the same purchase (created
// reports whether this call made it), and Stripe gets an idempotency key derived from the
// purchase, so a retry after a crash between the two steps finds the same session. No
// credits move here: only the signed webhook adds them.
func (s *Service) CreatePurchase(ctx context.Context, in PurchaseInput) (p store.Purchase, created bool, err error) {
	pk, ok := s.pkg(in.PackageID)
	if !ok {
		return p, false, problem.Validation(map[string]string{"package_id": "is not a credit package on sale"})
	}
	p, created, err = s.Store.InsertPurchase(ctx, store.Purchase{UserID: in.UserID, PackageID: pk.ID, Credits: pk.Credits,
		AmountCents: pk.AmountCents, Currency: s.cfg.Currency, IdempotencyKey: in.IdempotencyKey, CreatedAt: s.Now()})
	if err != nil {
		return p, false, err
	}
	if p.PackageID != pk.ID {
		return p, false, problem.New(http.StatusUnprocessableEntity, problem.CodeConflict,
			"this Idempotency-Key was already used for another package")
	}
	if p.StripeSessionID != "" {
		return p, created, nil
	}
	params := &stripe.CheckoutSessionCreateParams{
		Mode:              stripe.String(string(stripe.CheckoutSessionModePayment)),
		SuccessURL:        stripe.String(s.cfg.SuccessURL),
		CancelURL:         stripe.String(s.cfg.CancelURL),
		ClientReferenceID: stripe.String(p.ID),
		CustomerEmail:     stripe.String(p.UserEmail),
		Metadata:          map[string]string{"purchase_id": p.ID},
		PaymentIntentData: &stripe.CheckoutSessionCreatePaymentIntentDataParams{Metadata: map[string]string{"purchase_id": p.ID}},
		LineItems: []*stripe.CheckoutSessionCreateLineItemParams{{
			Quantity: stripe.Int64(1),
			PriceData: &stripe.CheckoutSessionCreateLineItemPriceDataParams{
				Currency:    stripe.String(p.Currency),
				UnitAmount:  stripe.Int64(p.AmountCents),
				ProductData: &stripe.CheckoutSessionCreateLineItemPriceDataProductDataParams{Name: stripe.String(fmt.Sprintf("%s: %d Atrium credits", pk.Name, pk.Credits))},
			},
		}},
	}
	params.SetIdempotencyKey("atrium-purchase-" + p.ID + "-" + in.IdempotencyKey)
	sess, err := s.stripe.V1CheckoutSessions.Create(ctx, params)
	if err != nil {
		s.Log.Warn("stripe: create checkout session failed", "purchase_id", p.ID, "err", err)
		return p, false, problem.New(http.StatusBadGateway, CodeStripeUnavailable, "the payment provider is unavailable; retry with the same Idempotency-Key")
	}
	pi := ""
	if sess.PaymentIntent != nil {
		pi = sess.PaymentIntent.ID
	}
	p, err = s.Store.SetPurchaseSession(ctx, p.ID, sess.ID, pi, sess.URL, s.Now())
	return p, created, err
}

// Purchases lists the user's purchases (failed and cancelled ones included).
func (s *Service) Purchases(ctx context.Context, userID string, limit int) ([]store.Purchase, error) {
	return s.Store.UserPurchases(ctx, userID, limit)
}

// Purchase returns one of the user's purchases; 404 for anyone else's.
func (s *Service) Purchase(ctx context.Context, userID, id string) (store.Purchase, error) {
	p, err := s.Store.PurchaseByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && p.UserID != userID) {
		return store.Purchase{}, problem.New(http.StatusNotFound, problem.CodeNotFound, "no such purchase")
	}
	return p, err
}

// creditPurchase marks the purchase paid and adds its credits (cash → wallet) under the key
// "purchase:<id>", in tx, once: every path that learns of a payment (either webhook, the
// reconciliation job) calls it, and only the first changes anything. It emails the receipt.
func (s *Service) creditPurchase(ctx context.Context, tx *store.Store, purchaseID, source string, amountCents int64) (bool, error) {
	p, err := tx.PurchaseForUpdate(ctx, purchaseID)
	if err != nil {
		return false, err
	}
	if p.Status == store.PurchasePaid {
		return false, nil
	}
	if amountCents > 0 && amountCents != p.AmountCents {
		return false, fmt.Errorf("billing: purchase %s: stripe amount %d, expected %d", p.ID, amountCents, p.AmountCents)
	}
	now := s.Now()
	posted, err := ledger.Post(ctx, tx, ledger.Transfer("purchase:"+p.ID, "purchase",
		fmt.Sprintf("Bought %d credits", p.Credits), now, ledger.CashAccount, ledger.WalletOf(p.UserID), int64(p.Credits),
		map[string]any{"purchase_id": p.ID, "source": source, "amount_cents": p.AmountCents, "currency": p.Currency}))
	if err != nil || !posted {
		return false, err
	}
	if err := tx.SetPurchaseStatus(ctx, p.ID, store.PurchasePaid, "", now); err != nil {
		return false, err
	}
	s.Metrics.purchase(p.Credits)
	err = s.Mailer.Enqueue(ctx, tx, email.Message{To: p.UserEmail, Kind: email.KindReceipt, Data: map[string]any{
		"Name": p.UserName, "Reference": receiptRef(p), "Credits": p.Credits, "Amount": money(p.AmountCents, p.Currency),
		"Date": now.UTC().Format("2 Jan 2006")}})
	return true, err
}

func receiptRef(p store.Purchase) string { return "ATR-" + p.ID[:8] }

func money(cents int64, currency string) string {
	return fmt.Sprintf("%d.%02d %s", cents/100, cents%100, upper(currency))
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}

// Receipt is the downloadable receipt of a paid purchase.
type Receipt struct {
	Reference string
	Name      string
	Email     string
	Credits   int
	Amount    string
	PaidAt    time.Time
	Package   string
}

// PurchaseReceipt returns the receipt of one of the user's paid purchases.
func (s *Service) PurchaseReceipt(ctx context.Context, userID, id string) (Receipt, error) {
	p, err := s.Purchase(ctx, userID, id)
	if err != nil {
		return Receipt{}, err
	}
	if p.Status != store.PurchasePaid || p.PaidAt == nil {
		return Receipt{}, problem.New(http.StatusConflict, CodeNotPaid, "this purchase is not paid, so it has no receipt")
	}
	return Receipt{Reference: receiptRef(p), Name: p.UserName, Email: p.UserEmail, Credits: p.Credits,
		Amount: money(p.AmountCents, p.Currency), PaidAt: *p.PaidAt, Package: p.PackageID}, nil
}

// CodeNotPaid is the 409 for a receipt of an unpaid purchase.
const CodeNotPaid = "purchase_not_paid"
