package booking_test

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/livekit/protocol/webhook"

	"github.com/atrium-live/atrium/controlplane/cptest"
)

// teach runs a 60-minute class that starts at starts: the teacher joins at the start and
// leaves after ran, the room finishes, and the class settles once its window closed.
func (w *world) teach(t *testing.T, classID string, starts time.Time, ran time.Duration, users ...*cptest.User) {
	t.Helper()
	w.advance(t, starts.Sub(w.env.Clock.Now()), users...)
	w.env.SendWebhook(t, cptest.ParticipantEvent("EV_t_"+classID, webhook.EventParticipantJoined, classID, w.teacher.ID,
		"PA_t_"+classID, starts)).Want(t, http.StatusOK)
	w.advance(t, ran, users...)
	w.env.SendWebhook(t, cptest.ParticipantEvent("EV_l_"+classID, webhook.EventParticipantLeft, classID, w.teacher.ID,
		"PA_t_"+classID, starts.Add(ran))).Want(t, http.StatusOK)
	w.env.SendWebhook(t, cptest.RoomEvent("EV_f_"+classID, webhook.EventRoomFinished, classID, starts.Add(ran))).Want(t, http.StatusOK)
	w.settleAfterWindow(t, starts, 60*time.Minute, users...)
}

func TestEarningsAfterCommissionAndPayoutCycle(t *testing.T) {
	w := newWorld(t)
	basic := w.bookedClass(t, 2*time.Hour, 20) // 60 credits, 20% commission: 48 to the teacher
	c := w.env.CreateClass(t, w.teacher, cptest.ClassSpec{StartsIn: 5 * time.Hour, Tier: "premium", Price: 40})
	premiumID := c["id"].(string)
	premiumStart, _ := time.Parse(time.RFC3339, c["starts_at"].(string))
	buyer := w.student(t, 40)
	w.mustBook(t, buyer, premiumID) // 40 credits, 15% commission: 34 to the teacher
	users := append(basic.students, buyer)
	w.teach(t, basic.id, basic.starts, 55*time.Minute, users...)
	w.teach(t, premiumID, premiumStart, 60*time.Minute, users...)

	var e struct {
		Totals  map[string]float64 `json:"totals"`
		ByMonth []map[string]any   `json:"by_month"`
		Classes []map[string]any   `json:"classes"`
	}
	w.env.Do(t, "GET", "/api/v1/teacher/earnings", w.teacher.Token, nil).Want(t, http.StatusOK).JSON(t, &e)
	if e.Totals["available_credits"] != 82 || e.Totals["net_credits"] != 82 || e.Totals["commission_credits"] != 18 ||
		e.Totals["gross_credits"] != 100 || len(e.Classes) != 2 {
		t.Fatalf("earnings = %+v", e)
	}
	months := 0.0
	for _, m := range e.ByMonth {
		months += m["net_credits"].(float64)
	}
	if months != 82 {
		t.Fatalf("by month = %v", e.ByMonth)
	}
	res := w.env.Do(t, "GET", "/api/v1/teacher/earnings.csv", w.teacher.Token, nil).Want(t, http.StatusOK)
	rows, err := csv.NewReader(strings.NewReader(string(res.Body))).ReadAll()
	if err != nil || len(rows) != 3 || rows[0][0] != "class_id" {
		t.Fatalf("csv = %q, %v", res.Body, err)
	}
	w.env.Do(t, "GET", "/api/v1/teacher/earnings", basic.students[0].Token, nil).WantError(t, http.StatusForbidden, "forbidden")

	// Payouts: the requested credits are reserved; an admin approves; Stripe transfers.
	w.env.Do(t, "POST", "/api/v1/teacher/payouts", w.teacher.Token, map[string]any{"credits": 100, "destination": "acct_123"}).
		WantError(t, http.StatusPaymentRequired, "insufficient_credits")
	w.env.Do(t, "POST", "/api/v1/teacher/payouts", w.teacher.Token, map[string]any{"credits": 50, "destination": "bank"}).
		WantError(t, http.StatusUnprocessableEntity, "validation_failed")
	var p1, p2 struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Amount int    `json:"amount_cents"`
		Tr     string `json:"stripe_transfer_id"`
	}
	w.env.Do(t, "POST", "/api/v1/teacher/payouts", w.teacher.Token, map[string]any{"credits": 50, "destination": "acct_1TeacherA"}).
		Want(t, http.StatusCreated).JSON(t, &p1)
	w.env.Do(t, "GET", "/api/v1/teacher/earnings", w.teacher.Token, nil).Want(t, http.StatusOK).JSON(t, &e)
	if e.Totals["available_credits"] != 32 || e.Totals["reserved_credits"] != 50 {
		t.Fatalf("after request: %+v", e.Totals)
	}
	w.checkLedger(t)
	var got tally
	parallel(5, func(int) {
		got.add(w.env.Do(t, "POST", "/api/v1/admin/payouts/"+p1.ID+"/approve", w.admin.Token, nil))
	})
	if got.m["200 "] != 1 || got.m["409 payout_not_pending"] != 4 {
		t.Fatalf("approve answers %v", got.m)
	}
	var list struct {
		Items []map[string]any `json:"items"`
	}
	w.env.Do(t, "GET", "/api/v1/teacher/payouts", w.teacher.Token, nil).Want(t, http.StatusOK).JSON(t, &list)
	if len(list.Items) != 1 || list.Items[0]["status"] != "paid" || !strings.HasPrefix(fmt.Sprint(list.Items[0]["stripe_transfer_id"]), "tr_") ||
		list.Items[0]["amount_cents"].(float64) != 750 {
		t.Fatalf("payouts = %v", list.Items)
	}
	w.env.Do(t, "POST", "/api/v1/teacher/payouts", w.teacher.Token, map[string]any{"credits": 32, "destination": "acct_1TeacherA"}).
		Want(t, http.StatusCreated).JSON(t, &p2)
	w.env.Do(t, "POST", "/api/v1/admin/payouts/"+p2.ID+"/reject", w.admin.Token, map[string]any{"note": "verify your account"}).
		Want(t, http.StatusOK)
	w.env.Do(t, "GET", "/api/v1/teacher/earnings", w.teacher.Token, nil).Want(t, http.StatusOK).JSON(t, &e)
	if e.Totals["available_credits"] != 32 || e.Totals["reserved_credits"] != 0 || e.Totals["paid_out_credits"] != 50 {
		t.Fatalf("after the cycle: %+v", e.Totals)
	}
	w.checkLedger(t)
}
