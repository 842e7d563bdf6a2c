package api

import (
	"bytes"
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/store"
)

type classEarningsView struct {
	ClassID    string    `json:"class_id"`
	Title      string    `json:"title"`
	StartsAt   time.Time `json:"starts_at"`
	Outcome    string    `json:"outcome"`
	Gross      int       `json:"gross_credits"`
	Refunded   int       `json:"refunded_credits"`
	Commission int       `json:"commission_credits"`
	Net        int       `json:"net_credits"`
	SettledAt  time.Time `json:"settled_at"`
}

func (h *Handler) teacherEarnings(w http.ResponseWriter, r *http.Request, p store.Principal) {
	e, err := h.Money.Booking.TeacherEarnings(r.Context(), bookingActor(p))
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	classes := make([]classEarningsView, 0, len(e.Classes))
	for _, o := range e.Classes {
		classes = append(classes, classEarningsView{ClassID: o.ClassID, Title: o.ClassTitle, StartsAt: o.ClassStartsAt.UTC(),
			Outcome: o.Outcome, Gross: o.GrossCredits, Refunded: o.RefundedCredits, Commission: o.CommissionCredits,
			Net: o.TeacherCredits, SettledAt: o.CreatedAt.UTC()})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"totals": map[string]any{"available_credits": e.Available, "reserved_credits": e.Reserved, "paid_out_credits": e.PaidOut,
			"net_credits": e.Net, "commission_credits": e.Commission, "gross_credits": e.Gross, "refunded_credits": e.Refunded},
		"by_month": e.ByMonth, "classes": classes})
}

func (h *Handler) teacherEarningsCSV(w http.ResponseWriter, r *http.Request, p store.Principal) {
	e, err := h.Money.Booking.TeacherEarnings(r.Context(), bookingActor(p))
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var buf bytes.Buffer
	if err := booking.WriteEarningsCSV(&buf, e); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="atrium-earnings.csv"`)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) requestPayout(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		Credits     int    `json:"credits"`
		Destination string `json:"destination"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out, err := h.Money.Billing.RequestPayout(r.Context(), p.UserID, in.Credits, in.Destination)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusCreated, viewPayout(out))
}

func (h *Handler) teacherPayouts(w http.ResponseWriter, r *http.Request, p store.Principal) {
	ps, err := h.Money.Billing.Payouts(r.Context(), p.UserID, "", 200)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": viewPayouts(ps)})
}
