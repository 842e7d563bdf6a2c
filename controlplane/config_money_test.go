package controlplane

import (
	"strings"
	"testing"

	"github.com/atrium-live/atrium/controlplane/billing"
)

func TestMoneyConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*MoneyConfig)
		want string
	}{
		{"currency", func(m *MoneyConfig) { m.Currency = "US Dollar" }, "money.currency"},
		{"no packages", func(m *MoneyConfig) { m.Packages = nil }, "money.packages"},
		{"duplicate package", func(m *MoneyConfig) { m.Packages = append(m.Packages, m.Packages[0]) }, "packages[3].id"},
		{"free package", func(m *MoneyConfig) { m.Packages = []billing.Package{{ID: "x", Credits: 10}} }, "amount_cents"},
		{"stripe url", func(m *MoneyConfig) { m.Stripe.APIURL = "api.stripe.com" }, "stripe.api_url"},
		{"webhook secret", func(m *MoneyConfig) { m.Stripe.WebhookSecret = "" }, "webhook_secret"},
		{"fee percent", func(m *MoneyConfig) { m.LateCancelFeePercent = 101 }, "late_cancel_fee_percent"},
		{"commission", func(m *MoneyConfig) { m.CommissionPercent.VIP = -1 }, "commission_percent.vip"},
		{"no-show window", func(m *MoneyConfig) { m.NoShowAfter = 0 }, "no_show_after"},
	} {
		c := DefaultConfig()
		tc.edit(&c.Money)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Validate() = %v, want an error mentioning %q", tc.name, err, tc.want)
		}
	}
	c := DefaultConfig()
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
}
