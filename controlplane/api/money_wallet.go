package api

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/atrium-live/atrium/controlplane/billing"
	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

func (h *Handler) getWallet(w http.ResponseWriter, r *http.Request, p store.Principal) {
	bal, err := h.Money.Billing.Wallet(r.Context(), p.UserID)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"balance_credits": bal, "packages": h.Money.Billing.Packages()})
}

type walletLineView struct {
	ID            int64          `json:"id"`
	TransactionID int64          `json:"transaction_id"`
	Kind          string         `json:"kind"`
	Memo          string         `json:"memo"`
	Credits       int64          `json:"credits"`
	Details       map[string]any `json:"details"`
	CreatedAt     time.Time      `json:"created_at"`
}

func (h *Handler) walletTransactions(w http.ResponseWriter, r *http.Request, p store.Principal) {
	f := problem.Field{}
	limit := 50
	if l := queryInt(r, f, "limit", 1, 200); l != nil {
		limit = *l
	}
	var before int64
	if c := r.URL.Query().Get("cursor"); c != "" {
		n, err := strconv.ParseInt(c, 10, 64)
		if err != nil || n < 1 {
			f.Add("cursor", "is not a cursor from a previous page")
		}
		before = n
	}
	if err := f.Err(); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	lines, err := h.Money.Billing.WalletLines(r.Context(), p.UserID, before, limit)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := page[walletLineView]{Items: make([]walletLineView, 0, len(lines))}
	for _, l := range lines {
		out.Items = append(out.Items, walletLineView{ID: l.EntryID, TransactionID: l.TransactionID, Kind: l.Kind, Memo: l.Memo,
			Credits: l.Amount, Details: publicDetails(l.Metadata), CreatedAt: l.CreatedAt.UTC()})
	}
	if len(lines) == limit {
		c := strconv.FormatInt(lines[len(lines)-1].EntryID, 10)
		out.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, out)
}

// publicDetails keeps the ledger metadata a wallet owner may see.
func publicDetails(m map[string]any) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"booking_id", "class_id", "purchase_id", "rule", "refund_id", "reason"} {
		if v, ok := m[k]; ok {
			out[k] = v
		}
	}
	return out
}

// idempotencyKey reads the Idempotency-Key header or returns the 400 problem.
func idempotencyKey(r *http.Request) (string, error) {
	k := r.Header.Get("Idempotency-Key")
	if !booking.ValidIdempotencyKey(k) {
		return "", booking.IdempotencyKeyProblem()
	}
	return k, nil
}

func (h *Handler) createPurchase(w http.ResponseWriter, r *http.Request, p store.Principal) {
	key, err := idempotencyKey(r)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var in struct {
		PackageID string `json:"package_id"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	pur, created, err := h.Money.Billing.CreatePurchase(r.Context(), billing.PurchaseInput{UserID: p.UserID,
		PackageID: in.PackageID, IdempotencyKey: key})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, viewPurchase(pur))
}

func (h *Handler) listPurchases(w http.ResponseWriter, r *http.Request, p store.Principal) {
	ps, err := h.Money.Billing.Purchases(r.Context(), p.UserID, 100)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := make([]purchaseView, 0, len(ps))
	for _, x := range ps {
		out = append(out, viewPurchase(x))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (h *Handler) purchaseReceipt(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	var rc billing.Receipt
	if err == nil {
		rc, err = h.Money.Billing.PurchaseReceipt(r.Context(), p.UserID, id)
	}
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var buf bytes.Buffer
	if err := billing.WriteReceiptHTML(&buf, rc); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="atrium-receipt-`+rc.Reference+`.html"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

// stripeWebhook verifies and processes a Stripe webhook. It reads the raw body itself: the
// signature covers the exact bytes Stripe sent.
func (h *Handler) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, r, h.Log, jsonProblem(err))
		return
	}
	if err := h.Money.Billing.ReceiveWebhook(r.Context(), body, r.Header.Get("Stripe-Signature")); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"received": true})
}
