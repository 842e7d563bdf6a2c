package api

import (
	"testing"

	"github.com/atrium-live/atrium/controlplane/store"
)

// Stored choices override the defaults (everything on); kinds without emails never claim an
// email channel, whatever was stored.
func TestPreferenceViews(t *testing.T) {
	got := preferenceViews([]store.NotificationPreference{
		{Kind: "booking", InApp: false, Email: true},
		{Kind: "low_credits", InApp: true, Email: true}, // low_credits has no email
		{Kind: "gone_kind", InApp: false, Email: false}, // a kind no longer offered is ignored
	})
	by := map[string]preferenceView{}
	for _, v := range got {
		by[v.Kind] = v
	}
	for _, tc := range []struct {
		kind         string
		inApp, email bool
	}{
		{"booking", false, true}, {"low_credits", true, false}, {"refund", true, true}, {"recording_ready", true, false},
	} {
		if v := by[tc.kind]; v.InApp != tc.inApp || v.Email != tc.email {
			t.Errorf("preferenceViews: %s = %+v, want in_app %v email %v", tc.kind, v, tc.inApp, tc.email)
		}
	}
	if len(got) != 7 || got[0].Kind != "booking" {
		t.Errorf("preferenceViews lists %d kinds starting with %q, want the 7 of notify.Kinds in order", len(got), got[0].Kind)
	}
}
