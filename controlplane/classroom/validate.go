package classroom

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/atrium-live/atrium/controlplane/problem"
)

// cleanText trims s and checks it holds 1 to max characters with no control characters
// other than newlines and tabs; it returns the trimmed text or what is wrong with it.
func cleanText(s string, max int) (string, string) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		return "", "must be valid UTF-8"
	case n == 0:
		return "", "must not be empty"
	case n > max:
		return "", "must be at most " + strconv.Itoa(max) + " characters"
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' {
			return "", "must not contain control characters"
		}
	}
	return s, ""
}

// ChatText validates a chat message.
func ChatText(s string) (string, error) {
	t, bad := cleanText(s, MaxChatRunes)
	if bad != "" {
		return "", problem.Validation(map[string]string{"text": bad})
	}
	return t, nil
}

// QuestionText validates a question.
func QuestionText(s string) (string, error) {
	t, bad := cleanText(s, MaxQuestionRunes)
	if bad != "" {
		return "", problem.Validation(map[string]string{"text": bad})
	}
	return t, nil
}

// PollSpec validates a poll's question and options: 2 to 6 distinct options (ignoring
// case), each 1 to 100 characters. It returns them trimmed.
func PollSpec(question string, options []string) (string, []string, error) {
	f := problem.Field{}
	q, bad := cleanText(question, MaxPollRunes)
	if bad != "" {
		f.Add("question", bad)
	}
	if len(options) < MinPollOptions || len(options) > MaxPollOptions {
		f.Add("options", "must have "+strconv.Itoa(MinPollOptions)+" to "+strconv.Itoa(MaxPollOptions)+" options")
	}
	out := make([]string, 0, len(options))
	seen := map[string]bool{}
	for i, o := range options {
		t, bad := cleanText(o, MaxOptionRunes)
		if bad == "" && seen[strings.ToLower(t)] {
			bad = "repeats another option"
		}
		if bad != "" {
			f.Add("options."+strconv.Itoa(i), bad)
			continue
		}
		seen[strings.ToLower(t)] = true
		out = append(out, t)
	}
	if err := f.Err(); err != nil {
		return "", nil, err
	}
	return q, out, nil
}
