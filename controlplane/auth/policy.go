package auth

import (
	_ "embed"
	"strings"
	"sync"
	"unicode/utf8"
)

//go:embed common_passwords.txt
var commonPasswordsRaw string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	m := make(map[string]struct{})
	for _, line := range strings.Split(commonPasswordsRaw, "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			m[strings.ToLower(line)] = struct{}{}
		}
	}
	return m
})

// Password policy limits.
const (
	MinPasswordLen = 10
	// MaxPasswordBytes stops absurdly long inputs from costing hashing time.
	MaxPasswordBytes = 128
)

// CheckPassword returns "" if password is acceptable for the account with email, or a
// human-readable reason it is not: too short or long, a well-known password, or the email.
func CheckPassword(password, email string) string {
	if utf8.RuneCountInString(password) < MinPasswordLen {
		return "must be at least 10 characters"
	}
	if len(password) > MaxPasswordBytes {
		return "must be at most 128 bytes"
	}
	lower := strings.ToLower(password)
	if _, ok := commonPasswords()[lower]; ok {
		return "is too common; choose a less guessable password"
	}
	email = strings.ToLower(strings.TrimSpace(email))
	local, _, _ := strings.Cut(email, "@")
	if lower == email || (len(local) >= 4 && strings.Contains(lower, local) && len(lower)-len(local) < 4) {
		return "must not be (or be close to) your email address"
	}
	if strings.Count(lower, lower[:1]) == len(lower) {
		return "must not be one repeated character"
	}
	return ""
}
