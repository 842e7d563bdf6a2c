package api

import (
	"net/http"
	"time"

	"github.com/atrium-live/atrium/controlplane/billing"
	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

func (h *Handler) ledgerCheck(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	rep, err := h.Money.Check(r.Context())
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (h *Handler) grantCredits(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		UserID  string `json:"user_id"`
		Credits int    `json:"credits"`
		Reason  string `json:"reason"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if key != "" && !booking.ValidIdempotencyKey(key) {
		writeError(w, r, h.Log, booking.IdempotencyKeyProblem())
		return
	}
	if !isUUID(in.UserID) {
		writeError(w, r, h.Log, problem.Validation(map[string]string{"user_id": "must be a user id"}))
		return
	}
	granted, err := h.Money.Billing.Grant(r.Context(), billing.GrantInput{AdminID: p.UserID, UserID: in.UserID,
		Credits: in.Credits, Reason: in.Reason, IdempotencyKey: key})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	status := http.StatusOK
	if granted {
		status = http.StatusCreated
	}
	writeJSON(w, status, map[string]any{"user_id": in.UserID, "credits": in.Credits, "granted": granted})
}

func (h *Handler) adminRefund(w http.ResponseWriter, r *http.Request, p store.Principal) {
	var in struct {
		BookingID string `json:"booking_id"`
		Credits   *int   `json:"credits"`
		Reason    string `json:"reason"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if !isUUID(in.BookingID) {
		writeError(w, r, h.Log, problem.Validation(map[string]string{"booking_id": "must be a booking id"}))
		return
	}
	ref, err := h.Money.Booking.AdminRefund(r.Context(), bookingActor(p), booking.AdminRefundInput{BookingID: in.BookingID,
		Credits: in.Credits, Reason: in.Reason})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	h.endMediaAccessIfUnbooked(r.Context(), ref.ClassID, ref.StudentID)
	writeJSON(w, http.StatusCreated, viewRefund(ref))
}

type refundCursor struct {
	T  time.Time `json:"t"`
	ID string    `json:"i"`
}

func (h *Handler) listRefunds(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	f := problem.Field{}
	q := r.URL.Query()
	filter := store.RefundFilter{Rule: q.Get("rule"), Limit: 50}
	if v := q.Get("class_id"); v != "" {
		if !isUUID(v) {
			f.Add("class_id", "must be a class id")
		}
		filter.ClassID = v
	}
	if v := q.Get("student_id"); v != "" {
		if !isUUID(v) {
			f.Add("student_id", "must be a user id")
		}
		filter.StudentID = v
	}
	if l := queryInt(r, f, "limit", 1, 200); l != nil {
		filter.Limit = *l
	}
	if c := q.Get("cursor"); c != "" {
		var rc refundCursor
		if !decodeCursor(c, &rc) || !isUUID(rc.ID) {
			f.Add("cursor", "is not a cursor from a previous page")
		} else {
			filter.Before, filter.BeforeID = &rc.T, rc.ID
		}
	}
	since := queryTime(r, f, "since")
	if err := f.Err(); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	rep, err := h.Money.Booking.Refunds(r.Context(), filter, since)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	items := make([]refundView, 0, len(rep.Items))
	for _, x := range rep.Items {
		items = append(items, viewRefund(x))
	}
	type stat struct {
		Rule    string `json:"rule"`
		Count   int64  `json:"count"`
		Credits int64  `json:"credits"`
		Fees    int64  `json:"fee_credits"`
	}
	stats := make([]stat, 0, len(rep.Stats))
	var total stat
	total.Rule = "all"
	for _, s := range rep.Stats {
		stats = append(stats, stat(s))
		total.Count += s.Count
		total.Credits += s.Credits
		total.Fees += s.Fees
	}
	var next *string
	if len(rep.Items) == filter.Limit {
		last := rep.Items[len(rep.Items)-1]
		c := encodeCursor(refundCursor{T: last.CreatedAt, ID: last.ID})
		next = &c
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next,
		"statistics": map[string]any{"by_rule": stats, "total": total}})
}

func (h *Handler) listDisputes(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	ds, err := h.Money.Booking.Disputes(r.Context(), r.URL.Query().Get("status"), 200)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := make([]disputeView, 0, len(ds))
	for _, d := range ds {
		out = append(out, viewDispute(d))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}

func (h *Handler) resolveDispute(w http.ResponseWriter, r *http.Request, p store.Principal) {
	id, err := pathUUID(r, "id")
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	var in struct {
		Decision string `json:"decision"`
		Credits  *int   `json:"credits"`
		Note     string `json:"note"`
	}
	if err := decode(r, &in); err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	if in.Decision != "refund" && in.Decision != "reject" {
		writeError(w, r, h.Log, problem.Validation(map[string]string{"decision": "must be refund or reject"}))
		return
	}
	d, ref, err := h.Money.Booking.ResolveDispute(r.Context(), bookingActor(p), booking.ResolveInput{DisputeID: id,
		Refund: in.Decision == "refund", Credits: in.Credits, Note: in.Note})
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := map[string]any{"dispute": viewDispute(d)}
	if ref != nil {
		h.endMediaAccessIfUnbooked(r.Context(), ref.ClassID, ref.StudentID)
		out["refund"] = viewRefund(*ref)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) adminPayouts(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	ps, err := h.Money.Billing.Payouts(r.Context(), "", r.URL.Query().Get("status"), 200)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": viewPayouts(ps)})
}

func (h *Handler) decidePayout(approve bool) func(http.ResponseWriter, *http.Request, store.Principal) {
	return func(w http.ResponseWriter, r *http.Request, p store.Principal) {
		id, err := pathUUID(r, "id")
		if err != nil {
			writeError(w, r, h.Log, err)
			return
		}
		var in struct {
			Note string `json:"note"`
		}
		if err := decodeOptional(r, &in); err != nil {
			writeError(w, r, h.Log, err)
			return
		}
		var out store.Payout
		if approve {
			out, err = h.Money.Billing.ApprovePayout(r.Context(), p.UserID, id, in.Note)
		} else {
			out, err = h.Money.Billing.RejectPayout(r.Context(), p.UserID, id, in.Note)
		}
		if err != nil {
			writeError(w, r, h.Log, err)
			return
		}
		writeJSON(w, http.StatusOK, viewPayout(out))
	}
}

type reconRunView struct {
	ID            int64                     `json:"id"`
	StartedAt     time.Time                 `json:"started_at"`
	FinishedAt    time.Time                 `json:"finished_at"`
	Checked       int                       `json:"checked"`
	Fixed         int                       `json:"fixed"`
	Discrepancies []store.LedgerDiscrepancy `json:"discrepancies"`
}

func viewRun(x store.ReconciliationRun) reconRunView {
	ds := x.Discrepancies
	if ds == nil {
		ds = []store.LedgerDiscrepancy{}
	}
	return reconRunView{ID: x.ID, StartedAt: x.StartedAt.UTC(), FinishedAt: x.FinishedAt.UTC(), Checked: x.Checked,
		Fixed: x.Fixed, Discrepancies: ds}
}

func (h *Handler) runReconciliation(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	run, err := h.Money.Billing.Reconcile(r.Context())
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, viewRun(run))
}

func (h *Handler) listReconciliations(w http.ResponseWriter, r *http.Request, _ store.Principal) {
	runs, err := h.Money.Billing.ReconciliationRuns(r.Context(), 50)
	if err != nil {
		writeError(w, r, h.Log, err)
		return
	}
	out := make([]reconRunView, 0, len(runs))
	for _, x := range runs {
		out = append(out, viewRun(x))
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": out})
}
