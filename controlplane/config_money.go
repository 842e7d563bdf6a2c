package controlplane

import (
	"fmt"
	"net/url"
	"regexp"
	"time"

	"github.com/atrium-live/atrium/controlplane/billing"
)

// MoneyConfig is the money side (docs/money.md): credit packages, Stripe, and the booking,
// refund, commission and payout policy.
type MoneyConfig struct {
	// Currency of credit packages and payouts (ISO 4217, lower case).
	Currency string            `yaml:"currency"`
	Packages []billing.Package `yaml:"packages"`
	Stripe   StripeConfig      `yaml:"stripe"`
	// CancelCutoff: students cancelling earlier get a full refund, later (before the start)
	// a refund minus LateCancelFeePercent.
	CancelCutoff         time.Duration `yaml:"cancel_cutoff"`
	LateCancelFeePercent int           `yaml:"late_cancel_fee_percent"`
	// WaitlistClaimWindow is how long a waitlist offer lasts (never past the start).
	WaitlistClaimWindow time.Duration `yaml:"waitlist_claim_window"`
	// NoShowAfter: if the teacher has not been in the room between the start and this long
	// after it, everyone is refunded at once (docs/classes.md).
	NoShowAfter time.Duration `yaml:"no_show_after"`
	// MinTeaching: a teacher present for less than this within the class's window is not
	// paid and every student is refunded in full.
	MinTeaching time.Duration `yaml:"min_teaching"`
	// EarlyEndPercent: a teacher present for less than this share of the schedule is paid
	// for the share taught; students get the rest back.
	EarlyEndPercent int `yaml:"early_end_percent"`
	// SettleAfter: money is decided this long after the class's window closed (its End, or
	// the scheduled end plus livekit.rejoin_grace), once the SFU's last webhooks are in.
	SettleAfter time.Duration `yaml:"settle_after"`
	// CommissionPercent is the platform's share of settled classes per tier.
	CommissionPercent CommissionConfig `yaml:"commission_percent"`
	// DisputeWindow is how long after a class's end its students may open a dispute.
	DisputeWindow time.Duration `yaml:"dispute_window"`
	// ReminderOffsets: booked students are reminded at each of these offsets before the start
	// (whole minutes; an empty list: never). Not settable from the environment.
	ReminderOffsets []time.Duration `yaml:"reminder_offsets"`
	// LowCreditsBelow: a booking that takes a wallet below this balance notifies its owner
	// once (0: never).
	LowCreditsBelow int `yaml:"low_credits_below"`
	// PayoutCentsPerCredit converts earned credits into money for payouts.
	PayoutCentsPerCredit int64 `yaml:"payout_cents_per_credit"`
	MinPayoutCredits     int   `yaml:"min_payout_credits"`
	// SweepInterval runs no-show checks, settlement and waitlist expiry.
	SweepInterval time.Duration `yaml:"sweep_interval"`
	// ReconcileInterval compares Stripe's payments of the last ReconcileWindow with the ledger.
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	ReconcileWindow   time.Duration `yaml:"reconcile_window"`
}

// StripeConfig is how Atrium reaches Stripe.
type StripeConfig struct {
	SecretKey     string `yaml:"secret_key"`
	WebhookSecret string `yaml:"webhook_secret"`
	// APIURL is Stripe's API base: https://api.stripe.com in production, stripe-mock
	// (http://127.0.0.1:12111) by default for development and tests.
	APIURL     string `yaml:"api_url"`
	SuccessURL string `yaml:"success_url"`
	CancelURL  string `yaml:"cancel_url"`
}

// CommissionConfig is a percentage per class tier.
type CommissionConfig struct {
	Basic   int `yaml:"basic"`
	Premium int `yaml:"premium"`
	VIP     int `yaml:"vip"`
}

func defaultMoneyConfig() MoneyConfig {
	return MoneyConfig{
		Currency: "usd",
		Packages: []billing.Package{
			{ID: "starter", Name: "Starter", Credits: 50, AmountCents: 1000},
			{ID: "standard", Name: "Standard", Credits: 120, AmountCents: 2000},
			{ID: "pro", Name: "Pro", Credits: 350, AmountCents: 5000},
		},
		Stripe: StripeConfig{SecretKey: "sk_test_devonly", WebhookSecret: "whsec_dev_only_change_me",
			APIURL: "http://127.0.0.1:12111", SuccessURL: "http://127.0.0.1:8080/wallet?purchase=success",
			CancelURL: "http://127.0.0.1:8080/wallet?purchase=cancelled"},
		CancelCutoff:         24 * time.Hour,
		LateCancelFeePercent: 25,
		WaitlistClaimWindow:  24 * time.Hour,
		NoShowAfter:          15 * time.Minute,
		MinTeaching:          5 * time.Minute,
		EarlyEndPercent:      50,
		SettleAfter:          time.Hour,
		CommissionPercent:    CommissionConfig{Basic: 20, Premium: 15, VIP: 10},
		DisputeWindow:        14 * 24 * time.Hour,
		ReminderOffsets:      []time.Duration{24 * time.Hour, time.Hour},
		LowCreditsBelow:      10,
		PayoutCentsPerCredit: 15,
		MinPayoutCredits:     10,
		SweepInterval:        time.Minute,
		ReconcileInterval:    15 * time.Minute,
		ReconcileWindow:      48 * time.Hour,
	}
}

var (
	currencyRE = regexp.MustCompile(`^[a-z]{3}$`)
	packageRE  = regexp.MustCompile(`^[a-z0-9_-]{1,40}$`)
)

func (m *MoneyConfig) validate() []error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("money."+format, a...)) }
	if !currencyRE.MatchString(m.Currency) {
		bad("currency must be a lower-case ISO 4217 code such as usd")
	}
	if len(m.Packages) == 0 {
		bad("packages must list at least one credit package")
	}
	seen := map[string]bool{}
	for i, p := range m.Packages {
		if !packageRE.MatchString(p.ID) || seen[p.ID] {
			bad("packages[%d].id must be unique, 1-40 of a-z 0-9 _ -", i)
		}
		seen[p.ID] = true
		if p.Credits < 1 || p.Credits > 1_000_000 || p.AmountCents < 50 || p.AmountCents > 10_000_000 {
			bad("packages[%d]: credits 1..1000000 and amount_cents 50..10000000", i)
		}
	}
	s := m.Stripe
	if s.SecretKey == "" || s.WebhookSecret == "" {
		bad("stripe.secret_key and stripe.webhook_secret are required")
	}
	for name, v := range map[string]string{"api_url": s.APIURL, "success_url": s.SuccessURL, "cancel_url": s.CancelURL} {
		if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			bad("stripe.%s must be an absolute http(s) URL, got %q", name, v)
		}
	}
	if m.CancelCutoff < 0 || m.WaitlistClaimWindow <= 0 || m.NoShowAfter <= 0 || m.SettleAfter < 0 || m.DisputeWindow <= 0 {
		bad("cancel_cutoff, waitlist_claim_window, no_show_after, settle_after, dispute_window must be positive")
	}
	if m.MinTeaching < 0 {
		bad("min_teaching must not be negative")
	}
	for name, p := range map[string]int{"late_cancel_fee_percent": m.LateCancelFeePercent, "early_end_percent": m.EarlyEndPercent,
		"commission_percent.basic": m.CommissionPercent.Basic, "commission_percent.premium": m.CommissionPercent.Premium,
		"commission_percent.vip": m.CommissionPercent.VIP} {
		if p < 0 || p > 100 {
			bad("%s must be 0..100", name)
		}
	}
	for i, o := range m.ReminderOffsets {
		if o < time.Minute || o%time.Minute != 0 || o > 30*24*time.Hour {
			bad("reminder_offsets[%d] must be whole minutes between 1m and 720h, got %s", i, o)
		}
	}
	if m.LowCreditsBelow < 0 {
		bad("low_credits_below must not be negative")
	}
	if m.PayoutCentsPerCredit < 1 || m.MinPayoutCredits < 1 {
		bad("payout_cents_per_credit and min_payout_credits must be positive")
	}
	if m.SweepInterval < time.Second || m.ReconcileInterval < time.Minute || m.ReconcileWindow <= 0 {
		bad("sweep_interval >= 1s, reconcile_interval >= 1m and reconcile_window > 0 are required")
	}
	return errs
}
