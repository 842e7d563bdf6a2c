package sfu

import (
	"os"
	"strings"
	"testing"
)

func TestCheckParticipantUpdate(t *testing.T) {
	l := LimitsConfig{MaxNameBytes: 4, MaxMetadataBytes: 8, MaxAttributesBytes: 6}.withDefaults()
	for _, tc := range []struct {
		name, meta string
		attrs      map[string]string
		ok         bool
	}{
		{"abcd", "12345678", map[string]string{"k": "12345"}, true},
		{"abcde", "", nil, false},
		{"", "123456789", nil, false},
		{"", "", map[string]string{"k": "123456"}, false},
		{"", "", map[string]string{"ab": "12", "c": "3"}, true},
	} {
		err := l.checkParticipantUpdate(tc.name, tc.meta, tc.attrs)
		if (err == nil) != tc.ok {
			t.Errorf("checkParticipantUpdate(%q, %q, %v) = %v, want ok=%v", tc.name, tc.meta, tc.attrs, err, tc.ok)
		}
	}
	if err := l.checkRoomMetadata(strings.Repeat("x", 9)); err == nil {
		t.Error("checkRoomMetadata accepted 9 bytes over a limit of 8")
	}
}

func TestMergeAttributes(t *testing.T) {
	cur := map[string]string{"a": "1", "b": "2"}
	got := mergeAttributes(cur, map[string]string{"a": "", "c": "3"})
	if len(got) != 2 || got["b"] != "2" || got["c"] != "3" {
		t.Errorf("mergeAttributes = %v, want b=2 c=3", got)
	}
	if len(cur) != 2 || cur["a"] != "1" {
		t.Errorf("mergeAttributes modified its input: %v", cur)
	}
}

func TestLimitsDefaults(t *testing.T) {
	if got, want := (LimitsConfig{}).withDefaults(), DefaultLimits(); got != want {
		t.Errorf("zero limits = %+v, want %+v", got, want)
	}
	if got := (LimitsConfig{SignalQueueBytes: 7}).withDefaults().SignalQueueBytes; got != 7 {
		t.Errorf("SignalQueueBytes = %d, want the configured 7", got)
	}
}

// The sample config's limits and tokens are the defaults, so the page documenting them
// (docs/security.md) cannot drift from the code.
func TestSampleLimitsAreDefaults(t *testing.T) {
	keyFile := t.TempDir() + "/keys.yaml"
	if err := os.WriteFile(keyFile, []byte("APIatrium1: 0123456789abcdef0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	lookup := func(k string) (string, bool) {
		switch k {
		case "ATRIUM_SFU_KEY_FILE":
			return keyFile, true
		case "ATRIUM_SFU_CLUSTER_SECRET_KEY": // the sample enables the cluster
			return "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", true
		}
		return "", false
	}
	c := DefaultConfig()
	if err := c.Load("../config/sfu.yaml", lookup); err != nil {
		t.Fatal(err)
	}
	if c.Limits != DefaultLimits() {
		t.Errorf("config/sfu.yaml limits = %+v, want the defaults %+v", c.Limits, DefaultLimits())
	}
	if got, want := c.Tokens, (TokenConfig{}).withDefaults(); got != want {
		t.Errorf("config/sfu.yaml tokens = %+v, want the defaults %+v", got, want)
	}
}
