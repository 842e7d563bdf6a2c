package api

import (
	"context"

	"github.com/atrium-live/atrium/controlplane/billing"
	"github.com/atrium-live/atrium/controlplane/booking"
	"github.com/atrium-live/atrium/controlplane/ledger"
)

// Money is what the money handlers (money_*.go) use: billing (wallet, purchases, Stripe
// webhooks, grants, payouts), booking (bookings, waitlists, refunds, disputes, earnings) and
// the full ledger check.
type Money struct {
	Billing *billing.Service
	Booking *booking.Service
	Check   func(ctx context.Context) (ledger.Report, error)
}
