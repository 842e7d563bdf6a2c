// Package problem is the error type services return for outcomes a client must see: an HTTP
// status, a stable machine-readable code (listed in the OpenAPI spec), a message safe to show,
// and optionally field errors or details. The API layer writes it as
// {"error": {"code", "message", "fields"?, "details"?}}; any other error becomes a 500 whose
// cause is logged, never sent.
package problem

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Error is a client-visible failure.
type Error struct {
	Status  int
	Code    string
	Message string
	// Fields maps a request field (JSON name, dotted for nesting) to what is wrong with it.
	Fields map[string]string
	// Details carries structured extras (e.g. the credit shortfall of a 402).
	Details map[string]any
	// RetryAfter, when positive, is sent as the Retry-After header.
	RetryAfter time.Duration
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// As returns the *Error in err's chain, if any.
func As(err error) (*Error, bool) {
	var p *Error
	ok := errors.As(err, &p)
	return p, ok
}

// New returns an Error.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Validation returns a 422 validation_failed error with field errors.
func Validation(fields map[string]string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeValidation,
		Message: "some fields are invalid", Fields: fields}
}

// Field collects field errors; Err returns nil when there are none.
type Field map[string]string

// Add records msg for field unless the field already has an error.
func (f Field) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err returns a Validation error, or nil if f is empty.
func (f Field) Err() error {
	if len(f) == 0 {
		return nil
	}
	return Validation(f)
}

// Stable error codes. Clients branch on these; never rename one.
const (
	CodeBadRequest          = "bad_request"
	CodeBadJSON             = "bad_json"
	CodeValidation          = "validation_failed"
	CodeBodyTooLarge        = "body_too_large"
	CodeUnsupportedMedia    = "unsupported_media_type"
	CodeUnauthenticated     = "unauthenticated"
	CodeInvalidToken        = "invalid_token"
	CodeForbidden           = "forbidden"
	CodeNotFound            = "not_found"
	CodeMethodNotAllowed    = "method_not_allowed"
	CodeConflict            = "conflict"
	CodeRateLimited         = "rate_limited"
	CodeInternal            = "internal"
	CodeUnavailable         = "unavailable"
	CodeEmailTaken          = "email_taken"
	CodeInvalidCredentials  = "invalid_credentials"
	CodeAccountLocked       = "account_locked"
	CodeAccountSuspended    = "account_suspended"
	CodeTOTPRequired        = "totp_required"
	CodeTOTPInvalid         = "totp_invalid"
	CodeTOTPAlreadyEnabled  = "totp_already_enabled"
	CodeTOTPNotEnrolled     = "totp_not_enrolled"
	CodeTOTPNotEnabled      = "totp_not_enabled"
	CodeInvalidRefreshToken = "invalid_refresh_token"
	CodeRefreshTokenReused  = "refresh_token_reused"
	CodeEmailNotVerified    = "email_not_verified"
	CodeClassNotEditable    = "class_not_editable"
	CodeJoinTooEarly        = "join_too_early"
	CodeClassEnded          = "class_ended"
	CodeClassCancelled      = "class_cancelled"
	CodeNotBooked           = "not_booked"
	CodeInvalidSignature    = "invalid_signature"
	// Class lifecycle and moderation (docs/classes.md).
	CodeBannedFromClass = "banned_from_class"
	CodeRoomLocked      = "room_locked"
	CodeClassNotStarted = "class_not_started"
)
