package classroom

import (
	"strings"
	"testing"

	"github.com/atrium-live/atrium/controlplane/problem"
)

func TestCleanText(t *testing.T) {
	for _, tc := range []struct {
		in, want, bad string
		max           int
	}{
		{"  hello  ", "hello", "", 10},
		{"line one\nline two\tend", "line one\nline two\tend", "", 100},
		{"", "", "must not be empty", 10},
		{" \n\t ", "", "must not be empty", 10},
		{strings.Repeat("é", 10), strings.Repeat("é", 10), "", 10}, // characters, not bytes
		{strings.Repeat("é", 11), "", "must be at most 10 characters", 10},
		{"bell\x07", "", "must not contain control characters", 10},
		{"nul\x00x", "", "must not contain control characters", 10},
		{"bad \xff utf8", "", "must be valid UTF-8", 20},
	} {
		got, bad := cleanText(tc.in, tc.max)
		if got != tc.want || bad != tc.bad {
			t.Errorf("cleanText(%q, %d) = %q, %q; want %q, %q", tc.in, tc.max, got, bad, tc.want, tc.bad)
		}
	}
}

func TestPollSpec(t *testing.T) {
	opts := func(n int) []string {
		var o []string
		for i := 0; i < n; i++ {
			o = append(o, "option "+string(rune('A'+i)))
		}
		return o
	}
	for _, tc := range []struct {
		name     string
		question string
		options  []string
		fields   []string // fields with an error; none means valid
	}{
		{"two options", "Pace?", []string{" Slower ", "Faster"}, nil},
		{"six options", "Pick", opts(6), nil},
		{"one option", "Pick", opts(1), []string{"options"}},
		{"seven options", "Pick", opts(7), []string{"options"}},
		{"no question", "  ", opts(2), []string{"question"}},
		{"long question", strings.Repeat("q", MaxPollRunes+1), opts(2), []string{"question"}},
		{"empty option", "Pick", []string{"A", " "}, []string{"options.1"}},
		{"long option", "Pick", []string{"A", strings.Repeat("o", MaxOptionRunes+1)}, []string{"options.1"}},
		{"duplicate ignoring case", "Pick", []string{"Yes", "yes "}, []string{"options.1"}},
	} {
		q, o, err := PollSpec(tc.question, tc.options)
		if len(tc.fields) == 0 {
			if err != nil || q != strings.TrimSpace(tc.question) || len(o) != len(tc.options) || o[0] != strings.TrimSpace(tc.options[0]) {
				t.Errorf("%s: PollSpec = %q, %q, %v; want the trimmed input", tc.name, q, o, err)
			}
			continue
		}
		pe, ok := problem.As(err)
		if !ok || pe.Code != problem.CodeValidation {
			t.Errorf("%s: PollSpec error = %v, want a validation problem", tc.name, err)
			continue
		}
		for _, f := range tc.fields {
			if pe.Fields[f] == "" {
				t.Errorf("%s: PollSpec fields = %v, want an error for %q", tc.name, pe.Fields, f)
			}
		}
		if len(pe.Fields) != len(tc.fields) {
			t.Errorf("%s: PollSpec fields = %v, want only %v", tc.name, pe.Fields, tc.fields)
		}
	}
}

func TestChatAndQuestionText(t *testing.T) {
	if _, err := ChatText(strings.Repeat("x", MaxChatRunes)); err != nil {
		t.Errorf("ChatText(%d chars) = %v, want ok", MaxChatRunes, err)
	}
	if _, err := ChatText(strings.Repeat("x", MaxChatRunes+1)); err == nil {
		t.Errorf("ChatText(%d chars) passed, want refused", MaxChatRunes+1)
	}
	if _, err := QuestionText(strings.Repeat("x", MaxQuestionRunes+1)); err == nil {
		t.Errorf("QuestionText(%d chars) passed, want refused", MaxQuestionRunes+1)
	}
	if pe, ok := problem.As(func() error { _, err := QuestionText(""); return err }()); !ok || pe.Fields["text"] == "" {
		t.Errorf("QuestionText(\"\") = %v, want a field error on text", pe)
	}
}
