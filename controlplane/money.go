package controlplane

import (
	"context"
	"net/mail"
	"net/url"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/riverqueue/river"

	"github.com/atrium-live/atrium/controlplane/api"
	"github.com/atrium-live/atrium/controlplane/billing"
	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/calendar"
	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/lifecycle"
	"github.com/atrium-live/atrium/controlplane/media"
)

// Money is the money side of the control plane (docs/money.md): the credits ledger,
// Stripe billing and payouts, and bookings with waitlists, refunds and settlement.
type Money struct {
	Billing *billing.Service
	Booking *booking.Service
	cfg     MoneyConfig
}

// newMoney builds the money services and registers their River workers. River's client
// (and so the email outbox) does not exist yet; bind hands them over once it does.
func newMoney(cfg Config, s *Server, workers *river.Workers) *Money {
	m := cfg.Money
	out := &Money{cfg: m}
	out.Booking = booking.New(booking.Config{CancelCutoff: m.CancelCutoff, LateCancelFeePercent: m.LateCancelFeePercent,
		ClaimWindow: m.WaitlistClaimWindow, Lifecycle: lifecyclePolicy(cfg), DisputeWindow: m.DisputeWindow,
		ReminderOffsets: m.ReminderOffsets, LowCreditsBelow: m.LowCreditsBelow, AppURL: cfg.HTTP.PublicURL,
		CalendarDomain: hostOf(cfg.HTTP.PublicURL), Organizer: organizer(cfg.SMTP.From), CommissionPercent: map[string]int{
			"basic": m.CommissionPercent.Basic, "premium": m.CommissionPercent.Premium, "vip": m.CommissionPercent.VIP}},
		booking.Deps{Store: s.Store, Log: s.Log.With("component", "booking"), Now: s.Now})
	out.Billing = billing.New(billing.Config{Packages: m.Packages, Currency: m.Currency,
		StripeSecretKey: m.Stripe.SecretKey, StripeWebhookSecret: m.Stripe.WebhookSecret, StripeAPIURL: m.Stripe.APIURL,
		SuccessURL: m.Stripe.SuccessURL, CancelURL: m.Stripe.CancelURL, PayoutCentsPerCredit: m.PayoutCentsPerCredit,
		MinPayoutCredits: m.MinPayoutCredits, ReconcileWindow: m.ReconcileWindow, AppURL: cfg.HTTP.PublicURL},
		billing.Deps{Store: s.Store, Log: s.Log.With("component", "billing"), Now: s.Now})
	river.AddWorker(workers, &booking.SweepWorker{Service: out.Booking})
	(&billing.Workers{Service: out.Billing}).Add(workers)
	return out
}

// lifecyclePolicy is the class lifecycle policy (docs/classes.md) from the config, shared by
// the join endpoint, the room closer, settlement and rosters.
func lifecyclePolicy(cfg Config) lifecycle.Policy {
	return lifecycle.Policy{JoinEarly: cfg.LiveKit.JoinEarly, RejoinGrace: cfg.LiveKit.RejoinGrace,
		NoShowAfter: cfg.Money.NoShowAfter, MinTeaching: cfg.Money.MinTeaching, EarlyEndPercent: cfg.Money.EarlyEndPercent,
		SettleAfter: cfg.Money.SettleAfter}
}

// bind gives the services the parts built after River's client.
func (m *Money) bind(jobs *river.Client[pgx.Tx], outbox *email.Outbox) {
	m.Booking.Mailer = outbox
	m.Billing.Mailer = outbox
	m.Billing.Jobs = jobs
}

// register adds the money metrics to reg.
func (m *Money) register(reg prometheus.Registerer) {
	m.Booking.Metrics = booking.NewMetrics(reg)
	m.Billing.Metrics = billing.NewMetrics(reg)
}

// hooks makes bookings the join check and the listener of cancellations and room events,
// unless the caller supplied its own.
func (m *Money) hooks(d *Deps) {
	if d.Bookings == nil {
		d.Bookings = m.Booking
	}
	if d.ClassHooks == nil {
		d.ClassHooks = m.Booking
	}
	if d.EventHooks == nil {
		d.EventHooks = m.Booking
	}
}

// periodicJobs are the sweep (no-shows, settlement, waitlist expiry), closing the rooms of
// ended classes (at the sweep's pace) and reconciliation.
func (m *Money) periodicJobs() []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(river.PeriodicInterval(m.cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return booking.SweepArgs{}, nil },
			&river.PeriodicJobOpts{RunOnStart: true}),
		river.NewPeriodicJob(river.PeriodicInterval(m.cfg.SweepInterval),
			func() (river.JobArgs, *river.InsertOpts) { return media.CloseRoomsArgs{}, nil }, nil),
		river.NewPeriodicJob(river.PeriodicInterval(m.cfg.ReconcileInterval),
			func() (river.JobArgs, *river.InsertOpts) { return billing.ReconcileArgs{}, nil }, nil),
	}
}

// Check runs the full ledger check: ledger invariants plus escrow, purchases and payouts.
func (m *Money) Check(ctx context.Context) (ledger.Report, error) {
	return ledger.Check(ctx, m.Booking.Store, m.Booking.Now(), m.Booking, m.Billing)
}

// api is what the HTTP handlers need.
func (m *Money) api() api.Money {
	return api.Money{Billing: m.Billing, Booking: m.Booking, Check: m.Check}
}

// hostOf is the host of an absolute URL (validated by Config), for calendar UIDs.
func hostOf(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Hostname() == "" {
		return "atrium.local"
	}
	return p.Hostname()
}

// organizer is the ORGANIZER of calendar invites: the address emails come from.
func organizer(from string) calendar.Person {
	a, err := mail.ParseAddress(from)
	if err != nil {
		return calendar.Person{}
	}
	name := a.Name
	if name == "" {
		name = "Atrium"
	}
	return calendar.Person{Name: name, Email: a.Address}
}
