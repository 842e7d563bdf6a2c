package sfu

import (
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
