// Package billing is how money enters and leaves Atrium: students buy credit packages
// through Stripe Checkout (card data never touches our servers), credits are added only when
// Stripe's signed webhook confirms payment (deduplicated by event id, failures retried by a
// job), a reconciliation job compares Stripe's recent payments with the ledger, purchases get
// an emailed and a downloadable receipt, admins grant promotional credits, and teachers'
// payouts are paid by Stripe transfers after an admin approves them.
//
// Stripe is reached through stripe-go v85 at Config.StripeAPIURL (stripe-mock in tests).
// A *Service is safe for concurrent use.
package billing

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
	"github.com/stripe/stripe-go/v85"

	"github.com/atrium-live/atrium/controlplane/email"
	"github.com/atrium-live/atrium/controlplane/ledger"
	"github.com/atrium-live/atrium/controlplane/store"
)

// Package is a credit package students can buy.
type Package struct {
	ID          string `yaml:"id" json:"id"`
	Name        string `yaml:"name" json:"name"`
	Credits     int    `yaml:"credits" json:"credits"`
	AmountCents int64  `yaml:"amount_cents" json:"amount_cents"`
}

// Config is billing's settings.
type Config struct {
	Packages []Package
	Currency string // ISO code, lower case (usd)
	// StripeSecretKey authenticates API calls; StripeWebhookSecret (whsec_...) verifies webhooks.
	StripeSecretKey     string
	StripeWebhookSecret string
	// StripeAPIURL overrides Stripe's API base URL (stripe-mock: http://127.0.0.1:12111).
	StripeAPIURL string
	// SuccessURL and CancelURL are where Checkout sends the browser back.
	SuccessURL string
	CancelURL  string
	// PayoutCentsPerCredit converts teacher credits to money for transfers.
	PayoutCentsPerCredit int64
	MinPayoutCredits     int
	// ReconcileWindow is how far back reconciliation looks at Stripe's sessions.
	ReconcileWindow time.Duration
	AppURL          string
}

// Mailer queues an email in the caller's transaction (*email.Outbox).
type Mailer interface {
	Enqueue(ctx context.Context, st *store.Store, m email.Message) error
}

// JobInserter enqueues River jobs in a transaction (*river.Client).
type JobInserter interface {
	InsertTx(ctx context.Context, tx pgx.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// Deps are the service's collaborators. Jobs may be set after New (River's client is built
// after its workers are registered), but before the first request.
type Deps struct {
	Store   *store.Store
	Mailer  Mailer
	Jobs    JobInserter
	Log     *slog.Logger
	Now     func() time.Time
	Metrics *Metrics // optional
}

// Service implements purchases, webhooks, reconciliation, grants and payouts.
type Service struct {
	cfg    Config
	stripe *stripe.Client
	Deps
}

// New returns a Service talking to Stripe at cfg.StripeAPIURL.
func New(cfg Config, d Deps) *Service {
	if d.Now == nil {
		d.Now = time.Now
	}
	bc := &stripe.BackendConfig{HTTPClient: &http.Client{Timeout: 30 * time.Second}, MaxNetworkRetries: stripe.Int64(2),
		LeveledLogger: &stripe.LeveledLogger{Level: stripe.LevelNull}}
	if cfg.StripeAPIURL != "" {
		bc.URL = stripe.String(cfg.StripeAPIURL)
	}
	sc := stripe.NewClient(cfg.StripeSecretKey, stripe.WithBackends(stripe.NewBackendsWithConfig(bc)))
	return &Service{cfg: cfg, stripe: sc, Deps: d}
}

// Packages returns the credit packages on sale.
func (s *Service) Packages() []Package { return s.cfg.Packages }

func (s *Service) pkg(id string) (Package, bool) {
	for _, p := range s.cfg.Packages {
		if p.ID == id {
			return p, true
		}
	}
	return Package{}, false
}

// LedgerChecks implements ledger.Checker: paid purchases are credited exactly once, and
// reserved payout credits match open payouts.
func (s *Service) LedgerChecks(ctx context.Context, st *store.Store) ([]string, []ledger.Discrepancy, error) {
	var out []ledger.Discrepancy
	p, err := st.PurchaseDiscrepancies(ctx)
	if err != nil {
		return nil, nil, err
	}
	q, err := st.PayoutDiscrepancies(ctx)
	if err != nil {
		return nil, nil, err
	}
	for _, d := range append(p, q...) {
		out = append(out, ledger.Discrepancy(d))
	}
	return []string{"purchases_match_ledger", "reserved_matches_payouts"}, out, nil
}
