package billing

import (
	"strconv"
	"testing"
	"time"
)

func TestCheckStripeTimestamp(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	at := func(d time.Duration) string { return "t=" + strconv.FormatInt(now.Add(d).Unix(), 10) + ",v1=abc" }
	for _, tc := range []struct {
		header string
		ok     bool
	}{
		{at(0), true},
		{at(-4 * time.Minute), true},
		{at(4 * time.Minute), true},
		{at(-10 * time.Minute), false},
		{at(10 * time.Minute), false}, // the future is refused too
		{at(72 * time.Hour), false},
		{"v1=abc", false},
		{"t=soon,v1=abc", false},
		{"", false},
		{"v1=abc, t=" + strconv.FormatInt(now.Unix(), 10), true},
	} {
		err := checkStripeTimestamp(tc.header, now, stripeTolerance)
		if (err == nil) != tc.ok {
			t.Errorf("checkStripeTimestamp(%q) = %v, want ok=%v", tc.header, err, tc.ok)
		}
	}
}
