package api

import (
	"strings"
	"testing"
)

func TestJSONDepthOK(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want bool
	}{
		{`{}`, 1, true},
		{`{"a":{}}`, 1, false},
		{`{"a":{}}`, 2, true},
		{`[[[]]]`, 2, false},
		{`[[[]]]`, 3, true},
		{`{"a":"[[[[[[[["}`, 1, true},      // brackets inside strings do not count
		{`{"a":"\"[[[[["}`, 1, true},       // nor after an escaped quote
		{`{"a":"\\"}`, 1, true},            // an escaped backslash ends the escape
		{`{"a":"\\",[[` + `]]}`, 1, false}, // and the string really ends there
		{`"just a string"`, 0, true},
		{`not json at all`, 0, true},
		{strings.Repeat("[", 10000), 32, false},
		{strings.Repeat("[", 32) + strings.Repeat("]", 32), 32, true},
	} {
		if got := jsonDepthOK([]byte(tc.in), tc.max); got != tc.want {
			t.Errorf("jsonDepthOK(%.40q, %d) = %v, want %v", tc.in, tc.max, got, tc.want)
		}
	}
}
