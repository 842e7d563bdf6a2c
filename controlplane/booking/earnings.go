package booking

import (
	"context"
	"encoding/csv"
	"io"
	"net/http"
	"sort"
	"strconv"
	"time"

	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/problem"
	"github.com/atrium-live/atrium/controlplane/store"
)

// MonthEarnings sums a teacher's settled classes of one calendar month (UTC).
type MonthEarnings struct {
	Month      string `json:"month"` // YYYY-MM
	Classes    int    `json:"classes"`
	Gross      int    `json:"gross_credits"`
	Refunded   int    `json:"refunded_credits"`
	Commission int    `json:"commission_credits"`
	Net        int    `json:"net_credits"`
}

// Earnings is a teacher's earnings overview.
type Earnings struct {
	Available  int64 // withdrawable now
	Reserved   int64 // in pending payouts
	PaidOut    int64 // paid through Stripe transfers
	Net        int64 // earned after commission, all time
	Commission int64
	Gross      int64
	Refunded   int64
	ByMonth    []MonthEarnings
	Classes    []store.ClassOutcome
}

// maxOutcomes bounds the per-class list (and so the report's cost).
const maxOutcomes = 5000

// TeacherEarnings returns totals, months (newest first) and classes (newest first).
func (s *Service) TeacherEarnings(ctx context.Context, a Actor) (Earnings, error) {
	if a.Role != "teacher" {
		return Earnings{}, problem.New(http.StatusForbidden, problem.CodeForbidden, "only teachers have earnings")
	}
	var e Earnings
	var err error
	if e.Available, err = ledger.Balance(ctx, s.Store, ledger.EarningsOf(a.UserID)); err != nil {
		return e, err
	}
	if e.Reserved, err = ledger.Balance(ctx, s.Store, ledger.ReservedOf(a.UserID)); err != nil {
		return e, err
	}
	if e.PaidOut, err = s.Store.PaidOutCredits(ctx, a.UserID); err != nil {
		return e, err
	}
	if e.Classes, err = s.Store.TeacherOutcomes(ctx, a.UserID, maxOutcomes); err != nil {
		return e, err
	}
	months := map[string]*MonthEarnings{}
	for _, o := range e.Classes {
		e.Net += int64(o.TeacherCredits)
		e.Commission += int64(o.CommissionCredits)
		e.Gross += int64(o.GrossCredits)
		e.Refunded += int64(o.RefundedCredits)
		k := o.ClassStartsAt.UTC().Format("2006-01")
		m := months[k]
		if m == nil {
			m = &MonthEarnings{Month: k}
			months[k] = m
		}
		m.Classes++
		m.Gross += o.GrossCredits
		m.Refunded += o.RefundedCredits
		m.Commission += o.CommissionCredits
		m.Net += o.TeacherCredits
	}
	e.ByMonth = make([]MonthEarnings, 0, len(months))
	for _, m := range months {
		e.ByMonth = append(e.ByMonth, *m)
	}
	sort.Slice(e.ByMonth, func(i, j int) bool { return e.ByMonth[i].Month > e.ByMonth[j].Month })
	return e, nil
}

// WriteEarningsCSV writes one row per settled class: the teacher's financial report.
func WriteEarningsCSV(w io.Writer, e Earnings) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"class_id", "title", "starts_at", "outcome", "gross_credits", "refunded_credits",
		"commission_credits", "net_credits", "settled_at"})
	for _, o := range e.Classes {
		_ = cw.Write([]string{o.ClassID, csvSafe(o.ClassTitle), o.ClassStartsAt.UTC().Format(time.RFC3339), o.Outcome,
			strconv.Itoa(o.GrossCredits), strconv.Itoa(o.RefundedCredits), strconv.Itoa(o.CommissionCredits),
			strconv.Itoa(o.TeacherCredits), o.CreatedAt.UTC().Format(time.RFC3339)})
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe defuses spreadsheet formula injection in user-provided text.
func csvSafe(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@') {
		return "'" + s
	}
	return s
}
