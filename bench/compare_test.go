package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/atrium-live/atrium/sfu/sfutest"
)

func TestCompareAlternatesAndRatios(t *testing.T) {
	a, b := sfutest.Serve(t), sfutest.Serve(t)
	scn, err := Preset("lecture", PresetParams{Subscribers: 2})
	if err != nil {
		t.Fatal(err)
	}
	scn.Duration = 2 * time.Second
	var order []string
	c, err := Compare(context.Background(), CompareOptions{
		Run:    Options{Scenario: scn, Grace: 5 * time.Second},
		A:      Target{URL: a.URL(), APIKey: a.APIKey(), APISecret: a.APISecret()},
		B:      Target{URL: b.URL(), APIKey: b.APIKey(), APISecret: b.APISecret()},
		Rounds: 1,
		OnRun: func(side string, round int, res *Result, err error) {
			order = append(order, side)
			if err != nil {
				t.Errorf("%s run %d: %v", side, round, err)
			} else if res.Server != map[string]string{"A": a.URL(), "B": b.URL()}[side] {
				t.Errorf("%s run went to %s", side, res.Server)
			}
		}})
	if err != nil {
		t.Fatalf("Compare: %v", err)
	}
	if strings.Join(order, "") != "AB" || len(c.A) != 1 || len(c.B) != 1 {
		t.Fatalf("runs in order %v (A %d, B %d), want A then B", order, len(c.A), len(c.B))
	}
	if c.A[0].Room == c.B[0].Room {
		t.Errorf("both runs used room %q, want a fresh room per run", c.A[0].Room)
	}
	var out bytes.Buffer
	if err := c.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "latency p50 ms") || !strings.Contains(out.String(), "B/A") {
		t.Errorf("table lacks figures or ratio:\n%s", out.String())
	}
	// Identical servers: the joins-ok ratio is exactly 1.
	if !strings.Contains(out.String(), "1.000") {
		t.Errorf("table has no ratio 1.000 for identical join counts:\n%s", out.String())
	}
}
